pub(crate) const MARKER: () = ();
