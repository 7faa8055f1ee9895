//! dnmscope's page parsing, sans IO.
//!
//! So far: [`normalize`], the normalisation every market shares, turning the text a market shows
//! ("฿0.000272", "100 x 2mg", "Holland", "3 days ago", "4.93/5") into the model's values. Page
//! classification and per-market extraction build on it.
//!
//! Nothing here fails the caller: a normaliser returns `Err` with a message saying what it could
//! not read, and the extractor turns that into a diagnostic for the field.

pub mod normalize;
