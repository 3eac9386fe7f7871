//! Lists `migrations/NNNN_name.sql` for the store, in order, so adding a
//! migration is adding a file. The numbers must run 0001, 0002, … without a gap.

use std::fmt::Write as _;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("the migrations directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    let mut out = String::from("&[\n");
    for (i, name) in names.iter().enumerate() {
        let number: usize = name.get(..4).and_then(|n| n.parse().ok()).unwrap_or(0);
        assert_eq!(
            number,
            i + 1,
            "migrations/{name}: migrations are numbered 0001, 0002, … without a gap"
        );
        let path = dir.join(name);
        let _ = writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    out.push_str("]\n");
    let target =
        std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("migrations.rs");
    std::fs::write(target, out).expect("write the migration list");
}
