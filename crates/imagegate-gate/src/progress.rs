//! How long work reports what it is doing. The CLI draws spinners on a terminal and prints
//! timestamped lines in CI logs; the library only says what happens.

/// Receives progress of long work. Implementations write to stderr, never stdout.
pub trait Progress: Sync {
    /// A step starts (`image` is the image's name in imagegate.toml).
    fn start(&self, image: &str, message: &str);
    /// The current step finished.
    fn finish(&self, image: &str, message: &str);
    /// Something worth a line of its own.
    fn note(&self, image: &str, message: &str);
}

/// Reports nothing.
pub struct SilentProgress;

impl Progress for SilentProgress {
    fn start(&self, _image: &str, _message: &str) {}
    fn finish(&self, _image: &str, _message: &str) {}
    fn note(&self, _image: &str, _message: &str) {}
}
