//! The URL table shared with the WebAssembly test.

use url::Url;

use crate::url_cases;

/// The URL table the WebAssembly test checks too: here its expected values
/// are checked against the `url` crate itself, then through `pagewise::core::Url`.
#[test]
fn url_cases_are_what_the_url_crate_computes() {
    for (base, input, want, same) in url_cases::JOINS {
        let b = Url::parse(base).unwrap();
        match b.join(input) {
            Ok(u) => {
                assert_eq!(u.as_str(), *want, "{base} + {input:?}");
                assert_eq!(u.origin() == b.origin(), *same, "{input:?}");
            }
            Err(_) => assert_eq!(*want, "error", "{base} + {input:?}"),
        }
    }
    url_cases::check();
}
