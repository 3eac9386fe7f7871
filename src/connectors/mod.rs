//! One file per vendor: API shapes, paging, auth and the mapping to rows.
//! Both use the shared HTTP layer (`http.rs`) and hand pages to the engine.

pub mod genesys;
pub mod gong;
