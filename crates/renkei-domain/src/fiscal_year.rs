//! Fiscal years (年度, April–March) and 和暦.
