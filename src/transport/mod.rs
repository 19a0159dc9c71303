//! Transports: what actually sends a [`Request`](crate::core::Request).

#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod pool;
#[cfg(not(target_arch = "wasm32"))]
pub mod ureq;
