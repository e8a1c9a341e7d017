use std::fmt;

pub struct HexValue(pub u64);
impl fmt::Debug for HexValue {
    fn fmt(&self, fmt: &mut fmt::Formatter) -> Result<(), fmt::Error> {
        write!(fmt, "0x{:016X}", self.0)
    }
}

// Unused upstream too; as a path dependency its warning is no longer capped.
#[allow(dead_code)]
pub struct HexSlice<'a>(pub &'a [u64]);
impl fmt::Debug for HexSlice<'_> {
    fn fmt(&self, fmt: &mut fmt::Formatter) -> Result<(), fmt::Error> {
        fmt.debug_list()
            .entries(self.0.iter().map(|&value| HexValue(value)))
            .finish()
    }
}
