//! Checks of `[database] path` before the mirror is opened: a directory that
//! does not exist is refused (a mistyped path is not created silently), and
//! `check-config` also checks this user may write there.

use super::Config;
use std::path::{Path, PathBuf};

/// Why the mirror cannot live at `[database] path`.
#[derive(Debug, thiserror::Error)]
pub enum DatabasePathError {
    #[error(
        "the mirror's directory {dir} does not exist; fix [database] path in {config} \
         (now {path}), or create the directory"
    )]
    NoDirectory {
        dir: PathBuf,
        path: PathBuf,
        config: PathBuf,
    },
    #[error(
        "{dir} is not a directory, so the mirror {path} cannot be there; fix [database] path in {config}"
    )]
    NotADirectory {
        dir: PathBuf,
        path: PathBuf,
        config: PathBuf,
    },
    #[error(
        "{path} is a directory, not the mirror's file; fix [database] path in {config} to name a file in it"
    )]
    IsADirectory { path: PathBuf, config: PathBuf },
    #[error(
        "cannot look at {what} ({why}); check that this user (uid {uid}) may enter the directories \
         of [database] path in {config}"
    )]
    Inaccessible {
        what: PathBuf,
        why: std::io::Error,
        uid: u32,
        config: PathBuf,
    },
    #[error(
        "{what} is not writable by this user (uid {uid}); the mirror and its -wal and -shm files need \
         it: fix its owner or permissions, or [database] path in {config}"
    )]
    NotWritable {
        what: PathBuf,
        uid: u32,
        config: PathBuf,
    },
}

impl Config {
    /// The directory that holds (or will hold) the mirror.
    pub fn database_dir(&self) -> PathBuf {
        match self.database_path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// Refuses a mirror whose directory does not exist (or is no directory,
    /// or cannot be looked at), or whose path is a directory. Commands check
    /// this before they open the mirror, which would otherwise create the
    /// directory.
    pub fn check_database_dir(&self) -> Result<(), DatabasePathError> {
        let (dir, path) = (self.database_dir(), self.database_path.clone());
        let config = self.file.clone();
        match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(DatabasePathError::NotADirectory { dir, path, config }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DatabasePathError::NoDirectory { dir, path, config })
            }
            Err(why) => return Err(self.inaccessible(dir, why)),
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => Err(DatabasePathError::IsADirectory { path, config }),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(why) => Err(self.inaccessible(path, why)),
        }
    }

    /// [`Config::check_database_dir`], and that this user may write the
    /// directory (for a new mirror, and its -wal and -shm files) and the
    /// mirror, if it exists. For `check-config`.
    pub fn check_database_writable(&self) -> Result<(), DatabasePathError> {
        self.check_database_dir()?;
        let dir = self.database_dir();
        let file = Some(self.database_path.clone()).filter(|p| p.exists());
        let targets = [
            Some((dir, libc::W_OK | libc::X_OK)),
            file.map(|f| (f, libc::W_OK)),
        ];
        for (what, mode) in targets.into_iter().flatten() {
            if !allowed(&what, mode) {
                return Err(DatabasePathError::NotWritable {
                    what,
                    uid: uid(),
                    config: self.file.clone(),
                });
            }
        }
        Ok(())
    }

    fn inaccessible(&self, what: PathBuf, why: std::io::Error) -> DatabasePathError {
        DatabasePathError::Inaccessible {
            what,
            why,
            uid: uid(),
            config: self.file.clone(),
        }
    }
}

/// Whether this process may access `path` as `mode` says (`access(2)`).
fn allowed(path: &Path, mode: libc::c_int) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    unsafe { libc::access(c.as_ptr(), mode) == 0 }
}

fn uid() -> u32 {
    // SAFETY: `geteuid` cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}
