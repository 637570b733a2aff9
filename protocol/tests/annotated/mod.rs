//! Reading the annotated breakdowns that the golden-vector tests keep beside their hex
//! constants: a block opened by `// ---- NAME, annotated` and closed by `// ---- end ----`, one
//! line per field, the hex first. Joining the hex column must give the constant back, so the
//! annotation cannot drift from the bytes it explains.

#![allow(clippy::panic)]

/// The hex column of the annotated breakdown of `name` in `source` (a test file's own text,
/// from `include_str!`), joined.
pub fn annotated_hex(source: &str, name: &str) -> String {
    let start = format!("// ---- {name}, annotated");
    let mut lines = source
        .lines()
        .skip_while(|line| !line.starts_with(&start))
        .skip(1);
    let mut hex = String::new();
    for line in lines.by_ref() {
        if line.starts_with("// ---- end ----") {
            return hex;
        }
        let token = line
            .strip_prefix("//")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("annotation line without hex: {line:?}"));
        assert!(
            token.len() % 2 == 0 && token.bytes().all(|b| b.is_ascii_hexdigit()),
            "annotation line without hex: {line:?}"
        );
        hex.push_str(token);
    }
    panic!("no annotated breakdown of {name}");
}
