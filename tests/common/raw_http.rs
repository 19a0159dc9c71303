//! For tests with hand-written HTTP servers.

use std::io::BufRead;

/// Reads one request head; `None` at end of stream.
pub fn read_head(r: &mut impl BufRead) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        if line == "\r\n" {
            return Some(head);
        }
        head.push_str(&line);
    }
}
