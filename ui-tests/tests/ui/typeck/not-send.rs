use bgdrop::BackgroundDrop;
use std::cell::RefCell;
use std::rc::Rc;

#[derive(BackgroundDrop)]
struct Shared {
    #[bgdrop]
    nodes: Rc<Vec<u8>>,
    #[bgdrop]
    ok: Vec<u8>,
    #[bgdrop(threshold = 10)]
    cells: Vec<Rc<RefCell<u8>>>,
}

fn main() {}
