//! Secret-looking values: recognising and redacting them.
