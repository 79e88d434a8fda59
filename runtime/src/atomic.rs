//! Atomic file replacement with a backup, for every file dw edits.
//!
//! [`replace`] gives a file new contents so that, whatever happens (a crash, a full disk, a power
//! loss), the file holds either its old or its new bytes, never a mix:
//!
//! - the new bytes go to a temporary file in the same directory, which is flushed to disk
//!   (fsync) and then renamed over the file, and the directory is flushed so the rename lasts;
//! - the previous bytes are first saved, the same way, in `<file>.dw-backup` next to the file;
//! - the file keeps its permissions, and its owner and group when the process may set them; a new
//!   file gets the permissions of any newly created file (0666 minus the umask);
//! - a symbolic link (dotfile managers link settings files into place) is followed, through a
//!   chain if need be, and its target is written: the link stays a link;
//! - writing the bytes a file already holds touches nothing: no backup, same modification time;
//! - a new file's missing parent directories are created (VS Code's user directory may not
//!   exist before VS Code first runs).
//!
//! The rename gives the file a new inode: other hard links to it keep the old contents. Dotfile
//! managers use symbolic links, which are followed; hard-linked settings files are rare.

use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Appended to a file's name to name its backup.
pub const BACKUP_SUFFIX: &str = ".dw-backup";

/// How many symbolic links [`resolve_symlinks`] follows before calling it a loop (Linux's limit).
const MAX_SYMLINK_HOPS: usize = 40;

/// What [`replace`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The file already held these bytes; nothing was written.
    Unchanged,
    /// The file did not exist and was created.
    Created,
    /// The file was replaced; its previous bytes are in `backup`.
    Replaced {
        /// `<file>.dw-backup`, next to the file actually written (a link's target).
        backup: PathBuf,
    },
}

/// Why a file could not be replaced. Each message says what was left as it was.
#[derive(Debug, thiserror::Error)]
pub enum AtomicWriteError {
    /// A symbolic link on the way to the file could not be read.
    #[error(
        "could not follow the symbolic link {}: {source}; nothing was written. Check that you can \
         read the link and the directory it is in",
        link.display()
    )]
    FollowLink {
        /// The link.
        link: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The symbolic links never reach a file.
    #[error(
        "{} leads through more than {MAX_SYMLINK_HOPS} symbolic links (a loop?); nothing was \
         written. Point the link at the real file, e.g. `ln -sfn /path/to/real/file {}`",
        link.display(),
        link.display()
    )]
    LinkLoop {
        /// The path given to [`replace`].
        link: PathBuf,
    },
    /// The current contents could not be read (they are needed for the backup).
    #[error(
        "could not read {} before replacing it: {source}; nothing was written. Check that it is a \
         regular file you can read",
        path.display()
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The directory of a new file could not be created.
    #[error(
        "could not create the directory {}: {source}; nothing was written. Create it yourself \
         (`mkdir -p {}`) or check the permissions of its parent",
        dir.display(),
        dir.display()
    )]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The backup could not be written, so the file was not touched.
    #[error(
        "could not save the backup {}: {source}; {} was left untouched. Check that its directory \
         is writable and the disk is not full",
        backup.display(),
        path.display()
    )]
    Backup {
        /// The file to be replaced.
        path: PathBuf,
        /// Where its backup was to go.
        backup: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The new contents could not be written; the file still holds its previous bytes.
    #[error(
        "could not write {}: {source}; the file still holds its previous contents. Check that its \
         directory is writable and the disk is not full",
        path.display()
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The file was replaced, but the directory entry could not be flushed to disk.
    #[error(
        "replaced {}, but could not flush its directory to disk: {source}; the new contents are in \
         place but might not survive a power loss. Run `sync` to flush them",
        path.display()
    )]
    SyncDir {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

/// Gives the file at `path` the bytes `contents`, atomically, after saving its previous bytes in
/// `<file>.dw-backup`. See the module documentation for the full contract.
///
/// When `path` is a symbolic link, its final target is read, backed up and written; a link to a
/// file that does not exist yet creates that file.
pub fn replace(path: &Path, contents: &[u8]) -> Result<WriteOutcome, AtomicWriteError> {
    let target = resolve_symlinks(path)?;
    let current = match fs::read(&target) {
        Ok(current) => Some(current),
        Err(error) if is_missing(&error) => None,
        Err(source) => {
            return Err(AtomicWriteError::Read {
                path: target,
                source,
            });
        }
    };
    let Some(current) = current else {
        let dir = parent_dir(&target);
        fs::create_dir_all(dir).map_err(|source| AtomicWriteError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })?;
        write_via_temporary(&target, contents, None).map_err(|error| error.into_write(&target))?;
        return Ok(WriteOutcome::Created);
    };
    if current == contents {
        return Ok(WriteOutcome::Unchanged);
    }
    let metadata = fs::metadata(&target).map_err(|source| AtomicWriteError::Read {
        path: target.clone(),
        source,
    })?;
    let backup = backup_path(&target);
    // The backup gets the file's permissions: a private file's old contents stay private.
    write_via_temporary(&backup, &current, Some(&metadata)).map_err(|error| match error {
        StepError::Written(source) | StepError::Renamed(source) => AtomicWriteError::Backup {
            path: target.clone(),
            backup: backup.clone(),
            source,
        },
    })?;
    write_via_temporary(&target, contents, Some(&metadata))
        .map_err(|error| error.into_write(&target))?;
    Ok(WriteOutcome::Replaced { backup })
}

/// The file a write to `path` lands on: `path` itself, or the end of its chain of symbolic links.
/// A relative link target is relative to the link's directory. The result may not exist (a
/// missing file, or a link to a file not created yet).
pub fn resolve_symlinks(path: &Path) -> Result<PathBuf, AtomicWriteError> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINK_HOPS {
        match fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let target =
                    fs::read_link(&current).map_err(|source| AtomicWriteError::FollowLink {
                        link: current.clone(),
                        source,
                    })?;
                current = parent_dir(&current).join(target);
            }
            Ok(_) => return Ok(current),
            // Nothing there: not a link; what is missing gets created.
            Err(error) if is_missing(&error) => return Ok(current),
            Err(source) => {
                return Err(AtomicWriteError::FollowLink {
                    link: current,
                    source,
                });
            }
        }
    }
    Err(AtomicWriteError::LinkLoop {
        link: path.to_path_buf(),
    })
}

/// Where [`replace`] keeps the previous bytes of `target`: `<target>.dw-backup`.
pub fn backup_path(target: &Path) -> PathBuf {
    let mut name = OsString::from(target.as_os_str());
    name.push(BACKUP_SUFFIX);
    PathBuf::from(name)
}

/// Whether an error means that nothing is at the path, not even the directories above it (a file
/// where a directory should be also means that), so that writing there is creating a file.
pub(crate) fn is_missing(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Which side of the rename a write failed on: before it the destination is untouched, after it
/// the destination holds the new bytes.
enum StepError {
    Written(io::Error),
    Renamed(io::Error),
}

impl StepError {
    fn into_write(self, path: &Path) -> AtomicWriteError {
        match self {
            StepError::Written(source) => AtomicWriteError::Write {
                path: path.to_path_buf(),
                source,
            },
            StepError::Renamed(source) => AtomicWriteError::SyncDir {
                path: path.to_path_buf(),
                source,
            },
        }
    }
}

/// Writes `contents` to a temporary file next to `destination`, flushes it, gives it the
/// permissions (and, when allowed, owner) of `like`, renames it over `destination` and flushes
/// the directory. The temporary file is removed on failure.
fn write_via_temporary(
    destination: &Path,
    contents: &[u8],
    like: Option<&Metadata>,
) -> Result<(), StepError> {
    let dir = parent_dir(destination);
    let mut prefix = OsString::from(".");
    prefix.push(destination.file_name().unwrap_or_default());
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".dw-tmp");
    if like.is_none() {
        new_file_permissions(&mut builder);
    }
    let mut temporary = builder.tempfile_in(dir).map_err(StepError::Written)?;
    temporary.write_all(contents).map_err(StepError::Written)?;
    if let Some(metadata) = like {
        // Owner first: changing the owner can clear permission bits such as setgid.
        copy_owner(temporary.as_file(), metadata).map_err(StepError::Written)?;
        temporary
            .as_file()
            .set_permissions(metadata.permissions())
            .map_err(StepError::Written)?;
    }
    temporary.as_file().sync_all().map_err(StepError::Written)?;
    temporary
        .persist(destination)
        .map_err(|error| StepError::Written(error.error))?;
    sync_dir(dir).map_err(StepError::Renamed)
}

/// A new file is created like any other (0666 minus the umask), not with the temporary file's
/// private 0600.
#[cfg(unix)]
fn new_file_permissions(builder: &mut tempfile::Builder) {
    use std::os::unix::fs::PermissionsExt;
    builder.permissions(fs::Permissions::from_mode(0o666));
}

#[cfg(not(unix))]
fn new_file_permissions(_builder: &mut tempfile::Builder) {}

/// Gives `file` the owner and group in `metadata`. Only a privileged process may give a file away,
/// so a refusal is not an error: the file then belongs to the user running dw, as any file they
/// save does.
#[cfg(unix)]
fn copy_owner(file: &File, metadata: &Metadata) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let current = file.metadata()?;
    if (current.uid(), current.gid()) == (metadata.uid(), metadata.gid()) {
        return Ok(());
    }
    match std::os::unix::fs::fchown(file, Some(metadata.uid()), Some(metadata.gid())) {
        Err(error) if error.kind() == io::ErrorKind::PermissionDenied => Ok(()),
        result => result,
    }
}

#[cfg(not(unix))]
fn copy_owner(_file: &File, _metadata: &Metadata) -> io::Result<()> {
    Ok(())
}

/// Flushes a directory so that a rename in it survives a power loss. File systems that cannot
/// flush a directory say so with `InvalidInput` or `Unsupported`; there is nothing more to do.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir).and_then(|dir| dir.sync_all()) {
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        result => result,
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
