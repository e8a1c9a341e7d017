//! Runs `examples/walk.rs` on a real binary (this test's own executable, position
//! independent as Rust builds it on Linux) and checks the return address it placed is found.
use object::{Object, ObjectSymbol};

#[allow(dead_code)] // its `main` is the example's, not called here
#[path = "../examples/walk.rs"]
mod walk;

#[test]
fn walk_example_finds_the_return_address_through_real_cfi() {
    let me = std::env::current_exe().unwrap();
    let data = std::fs::read(&me).unwrap();
    let file = object::File::parse(&*data).unwrap();
    if !file.is_64() || file.architecture() != object::Architecture::X86_64 {
        println!("SKIP: not an x86-64 ELF64 test binary");
        return;
    }
    let func = file
        .symbols()
        .find(|s| s.name().is_ok_and(|n| n.contains("walk_example_finds")) && s.size() > 0)
        .expect("this test's own function in the symbol table")
        .address();
    let args = [
        me.display().to_string(),
        format!("{func:#x}"),
        "0x5555000abcde".to_string(),
    ];
    let mut out = Vec::new();
    walk::run(&args, &mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains(&format!("(binary {func:#x})")), "{text}");
    assert!(text.contains("return 0x5555000abcde"), "{text}");
    assert!(walk::run(
        &["/nonexistent".into(), "0".into(), "0".into()],
        &mut Vec::new()
    )
    .unwrap_err()
    .contains("/nonexistent"));
}
