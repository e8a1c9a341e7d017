//! Runs `examples/resolve.rs` on a real ELF64 binary (this test's own executable) and checks
//! that it names the function at an address the symbol table gives.
use rperf_symbols::ElfSymbols;

#[allow(dead_code)] // its `main` is the example's, not called here
#[path = "../examples/resolve.rs"]
mod resolve;

#[test]
fn resolve_example_names_a_function_of_a_real_binary() {
    let me = std::env::current_exe().unwrap();
    let syms = ElfSymbols::load(&me).unwrap();
    let sym = syms
        .symbols()
        .find(|s| s.size > 16 && s.name.contains("resolve_example_names"))
        .expect("this test's own function in the symbol table");
    let args = [me.display().to_string(), format!("{:#x}", sym.start + 4)];
    let mut out = Vec::new();
    resolve::run(&args, &mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains(&format!("{}+0x4", sym.name)), "{text}");
    let err = resolve::run(&["/nonexistent".into(), "0x10".into()], &mut Vec::new());
    assert!(err.unwrap_err().contains("/nonexistent"));
    let err = resolve::run(&[me.display().to_string(), "zz".into()], &mut Vec::new());
    assert!(err.unwrap_err().contains("'zz'"));
}
