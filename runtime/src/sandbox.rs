//! The sandbox policy as a value.
//!
//! A [`SandboxSpec`] says everything about the container dw runs its executor in: the image,
//! the one project directory it sees, the credential-looking files hidden inside it, the user,
//! the network, the limits and the labels. It is built once, can be printed and tested, and is
//! turned into the Engine API's container configuration by [`SandboxSpec::container_config`] —
//! the workflow runner and the doctor's probe containers start containers only through it, so
//! both get the same isolation.
//!
//! The hardening it always applies, whatever the fields say:
//! - every capability dropped (`CapDrop: ALL`) and `no-new-privileges`;
//! - the engine's default seccomp profile, kept (dw never passes `seccomp=unconfined`);
//! - a read-only root filesystem, with tmpfs at `/tmp` and at the home directory [`HOME_DIR`];
//! - an init process (the engine's `Init`) as PID 1, which reaps what commands leave behind;
//! - nothing from the host but the project at [`WORKSPACE_DIR`], the executor binary (read-only,
//!   at [`EXECUTOR_PATH`]) and the masks.
//!
//! This module also owns the list of file names that look like credentials
//! ([`SECRET_FILE_PATTERNS`]): the sandbox masks them and the doctor reports them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountTmpfsOptions, MountType};

use crate::image::{DW_VERSION, VERSION_LABEL, WORKFLOW_LABEL};

/// Where the project is mounted inside the sandbox, read-write; the executor's root.
pub const WORKSPACE_DIR: &str = "/workspace";

/// Where the executor binary is mounted inside the sandbox, read-only.
pub const EXECUTOR_PATH: &str = "/opt/dw/dw-agent";

/// The home directory inside the sandbox: a tmpfs owned by the sandbox's user (`HOME` points
/// here, whatever the image's `/etc/passwd` says about that uid).
pub const HOME_DIR: &str = "/home/sandbox";

/// The label naming the dw process that owns a container: `<hostname>:<pid>:<start time>`.
///
/// The start time (field 22 of `/proc/<pid>/stat`, `-` where there is no `/proc`) tells a live
/// owner from an unrelated process that reused its pid. The reaper removes containers whose
/// owner is gone.
pub const OWNER_LABEL: &str = "dev.dw.owner";

/// The [`OWNER_LABEL`] value naming this process: `<hostname>:<pid>:<start time>`.
///
/// The start time is field 22 of `/proc/<pid>/stat` (clock ticks since boot); the command name
/// before it may contain spaces and parentheses, so fields are counted after its last `)`.
pub fn owner_of_this_process() -> String {
    let pid = std::process::id();
    let hostname = nix::unistd::gethostname()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown-host".to_owned());
    let start_time = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, after_name) = stat.rsplit_once(')')?;
            after_name.split_whitespace().nth(19).map(str::to_owned)
        })
        .unwrap_or_else(|| "-".to_owned());
    format!("{hostname}:{pid}:{start_time}")
}

/// How a credential-looking name is recognised (compared in lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameMatch {
    /// The name starts with this.
    Prefix(&'static str),
    /// The name ends with this.
    Suffix(&'static str),
    /// The name is exactly this.
    Exact(&'static str),
    /// The name starts with the first and ends with the second.
    PrefixAndSuffix(&'static str, &'static str),
}

/// One kind of credential file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretPattern {
    /// Which names it covers.
    pub name: NameMatch,
    /// What such a file is, for people ("environment file").
    pub what: &'static str,
}

/// Names of files and directories that look like credentials. Adding a kind is one row.
///
/// The sandbox masks every match, whatever its content (an `.npmrc` without a token is masked
/// too: cheaper than being wrong). Names ending in one of [`HARMLESS_SUFFIXES`] are not matches.
pub const SECRET_FILE_PATTERNS: &[SecretPattern] = &[
    SecretPattern {
        name: NameMatch::Prefix(".env"),
        what: "environment file",
    },
    SecretPattern {
        name: NameMatch::Suffix(".pem"),
        what: "PEM key or certificate",
    },
    SecretPattern {
        name: NameMatch::Suffix(".key"),
        what: "private key",
    },
    SecretPattern {
        name: NameMatch::Prefix("id_rsa"),
        what: "SSH key",
    },
    SecretPattern {
        name: NameMatch::Prefix("id_ed25519"),
        what: "SSH key",
    },
    SecretPattern {
        name: NameMatch::Prefix("id_ecdsa"),
        what: "SSH key",
    },
    SecretPattern {
        name: NameMatch::Exact(".npmrc"),
        what: "npm credentials",
    },
    SecretPattern {
        name: NameMatch::Exact(".pypirc"),
        what: "PyPI credentials",
    },
    SecretPattern {
        name: NameMatch::Exact(".netrc"),
        what: "netrc credentials",
    },
    SecretPattern {
        name: NameMatch::PrefixAndSuffix("credentials", ".json"),
        what: "credentials file",
    },
    SecretPattern {
        name: NameMatch::Exact("kubeconfig"),
        what: "Kubernetes config",
    },
    SecretPattern {
        name: NameMatch::Suffix(".kubeconfig"),
        what: "Kubernetes config",
    },
    SecretPattern {
        name: NameMatch::Suffix(".tfvars"),
        what: "Terraform variables",
    },
    SecretPattern {
        name: NameMatch::Suffix(".tfvars.json"),
        what: "Terraform variables",
    },
    SecretPattern {
        name: NameMatch::Exact(".ssh"),
        what: "SSH directory",
    },
    SecretPattern {
        name: NameMatch::Exact(".aws"),
        what: "AWS credentials directory",
    },
    SecretPattern {
        name: NameMatch::Exact(".gnupg"),
        what: "GnuPG keyring",
    },
];

/// Names that match a pattern but are public halves or examples, never masked.
pub const HARMLESS_SUFFIXES: &[&str] = &[".pub", ".example", ".sample", ".template", ".dist"];

/// What a file or directory name looks like a credential of, if it does.
pub fn secret_kind(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if HARMLESS_SUFFIXES
        .iter()
        .any(|suffix| lower.ends_with(suffix))
    {
        return None;
    }
    SECRET_FILE_PATTERNS
        .iter()
        .find(|pattern| match pattern.name {
            NameMatch::Prefix(prefix) => lower.starts_with(prefix),
            NameMatch::Suffix(suffix) => lower.ends_with(suffix),
            NameMatch::Exact(exact) => lower == exact,
            NameMatch::PrefixAndSuffix(prefix, suffix) => {
                lower.starts_with(prefix) && lower.ends_with(suffix)
            }
        })
        .map(|pattern| pattern.what)
}

/// One credential-looking entry of the project, hidden inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    /// The entry, relative to the project directory.
    pub path: PathBuf,
    /// A file (covered by an empty read-only file) or a directory (by an empty read-only tmpfs).
    pub kind: MaskKind,
    /// What it looks like ([`SecretPattern::what`]).
    pub what: &'static str,
}

/// What a [`Mask`] covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskKind {
    /// A file: an empty read-only file is mounted over it.
    File,
    /// A directory: an empty read-only tmpfs is mounted over it.
    Directory,
}

/// Which network the sandbox gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// `NetworkMode: none`: only the loopback interface. The default.
    #[default]
    None,
    /// The engine's default bridge network (`--allow-network`).
    Bridge,
}

/// Resource limits of the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Processes and threads at most (default 512): a fork bomb stops here.
    pub pids: i64,
    /// Memory in bytes (default 2 GiB); swap is not allowed on top (memory+swap = memory),
    /// so a process that needs more is killed by the kernel (exit status 137).
    pub memory_bytes: i64,
    /// CPU time per wall-clock time, in thousandths of a CPU (default 2000: two CPUs).
    ///
    /// Applied as a CFS quota rather than `NanoCpus`, which an engine refuses outright when
    /// the machine has fewer CPUs than asked for; a quota simply never binds there.
    pub millicpus: i64,
    /// Size of the `/tmp` tmpfs in bytes (default 1 GiB; counts against `memory_bytes`).
    pub tmp_bytes: i64,
    /// Size of the home directory's tmpfs in bytes (default 256 MiB; counts against memory).
    pub home_bytes: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            pids: 512,
            memory_bytes: 2 << 30,
            millicpus: 2000,
            tmp_bytes: 1 << 30,
            home_bytes: 256 << 20,
        }
    }
}

/// The user the sandbox runs as: the host user's ids, so files written in `/workspace` belong
/// to the user who ran dw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    /// The numeric user id.
    pub uid: u32,
    /// The numeric group id.
    pub gid: u32,
}

/// Everything about one sandbox container. See the module documentation for what is always
/// applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSpec {
    /// The image to start from (dw's default is
    /// [`DEFAULT_IMAGE`](crate::image::DEFAULT_IMAGE)).
    pub image: String,
    /// The project directory on the host, absolute; mounted read-write at [`WORKSPACE_DIR`].
    pub workspace: PathBuf,
    /// The static `dw-agent` binary on the host; mounted read-only at [`EXECUTOR_PATH`].
    pub executor: PathBuf,
    /// An empty, read-only file on the host, mounted over every file [`Mask`].
    pub empty_file: PathBuf,
    /// The credential-looking entries of the project to hide.
    pub masks: Vec<Mask>,
    /// The user to run as.
    pub user: User,
    /// The network.
    pub network: Network,
    /// The limits.
    pub limits: Limits,
    /// The workflow this sandbox belongs to, the value of [`WORKFLOW_LABEL`].
    pub workflow_id: String,
    /// The owning dw process, the value of [`OWNER_LABEL`] (see there for the format).
    pub owner: String,
}

impl SandboxSpec {
    /// The container's name: `dw-<workflow id>`.
    pub fn container_name(&self) -> String {
        format!("dw-{}", self.workflow_id)
    }

    /// The labels the container carries: workflow, version and owner.
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (WORKFLOW_LABEL.to_owned(), self.workflow_id.clone()),
            (VERSION_LABEL.to_owned(), DW_VERSION.to_owned()),
            (OWNER_LABEL.to_owned(), self.owner.clone()),
        ])
    }

    /// The container's main process: the executor serving the workspace over its stdin and
    /// stdout, which the host attaches to before starting the container.
    pub fn command(&self) -> Vec<String> {
        [EXECUTOR_PATH, "serve", "--root", WORKSPACE_DIR]
            .map(str::to_owned)
            .to_vec()
    }

    /// The Engine API's `POST /containers/create` body for this sandbox.
    pub fn container_config(&self) -> ContainerCreateBody {
        ContainerCreateBody {
            image: Some(self.image.clone()),
            // The image's entrypoint (tini, in dw's images) is replaced: the engine's own init
            // is PID 1 whatever the image, and the executor is its only child.
            entrypoint: Some(self.command()),
            cmd: Some(Vec::new()),
            user: Some(format!("{}:{}", self.user.uid, self.user.gid)),
            working_dir: Some(WORKSPACE_DIR.to_owned()),
            env: Some(vec![format!("HOME={HOME_DIR}")]),
            labels: Some(self.labels().into_iter().collect::<HashMap<_, _>>()),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            open_stdin: Some(true),
            // When dw's attachment ends (dw exits, is killed, or drops the sandbox), the
            // executor reads end-of-file and exits, and the container stops.
            stdin_once: Some(true),
            tty: Some(false),
            network_disabled: Some(self.network == Network::None),
            host_config: Some(self.host_config()),
            ..Default::default()
        }
    }

    fn host_config(&self) -> HostConfig {
        let cpu_period = 100_000;
        HostConfig {
            mounts: Some(self.mounts()),
            tmpfs: Some(self.tmpfs()),
            cap_drop: Some(vec!["ALL".to_owned()]),
            security_opt: Some(vec!["no-new-privileges:true".to_owned()]),
            readonly_rootfs: Some(true),
            network_mode: Some(
                match self.network {
                    Network::None => "none",
                    Network::Bridge => "bridge",
                }
                .to_owned(),
            ),
            pids_limit: Some(self.limits.pids),
            memory: Some(self.limits.memory_bytes),
            memory_swap: Some(self.limits.memory_bytes),
            cpu_period: Some(cpu_period),
            cpu_quota: Some(self.limits.millicpus * cpu_period / 1000),
            init: Some(true),
            ..Default::default()
        }
    }

    /// The workspace, the executor and one mount per mask.
    fn mounts(&self) -> Vec<Mount> {
        let mut mounts = vec![
            bind(&self.workspace, WORKSPACE_DIR, false),
            bind(&self.executor, EXECUTOR_PATH, true),
        ];
        mounts.extend(self.masks.iter().map(|mask| {
            let target = format!("{WORKSPACE_DIR}/{}", mask.path.to_string_lossy());
            match mask.kind {
                MaskKind::File => bind(&self.empty_file, &target, true),
                MaskKind::Directory => Mount {
                    target: Some(target),
                    typ: Some(MountType::TMPFS),
                    read_only: Some(true),
                    tmpfs_options: Some(MountTmpfsOptions {
                        size_bytes: Some(4096),
                        mode: Some(0o555),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            }
        }));
        mounts
    }

    /// `/tmp` and the home directory, writable, in memory.
    fn tmpfs(&self) -> HashMap<String, String> {
        let User { uid, gid } = self.user;
        HashMap::from([
            (
                "/tmp".to_owned(),
                format!(
                    "rw,exec,nosuid,nodev,size={},mode=1777",
                    self.limits.tmp_bytes
                ),
            ),
            (
                HOME_DIR.to_owned(),
                format!(
                    "rw,exec,nosuid,nodev,size={},mode=0700,uid={uid},gid={gid}",
                    self.limits.home_bytes
                ),
            ),
        ])
    }
}

fn bind(source: &Path, target: &str, read_only: bool) -> Mount {
    Mount {
        target: Some(target.to_owned()),
        source: Some(source.to_string_lossy().into_owned()),
        typ: Some(MountType::BIND),
        read_only: Some(read_only),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SandboxSpec {
        SandboxSpec {
            image: "example/image:1".to_owned(),
            workspace: PathBuf::from("/home/me/project"),
            executor: PathBuf::from("/usr/local/bin/dw-agent"),
            empty_file: PathBuf::from("/home/me/.cache/dw/empty"),
            masks: vec![
                Mask {
                    path: PathBuf::from(".env"),
                    kind: MaskKind::File,
                    what: "environment file",
                },
                Mask {
                    path: PathBuf::from("deploy/.ssh"),
                    kind: MaskKind::Directory,
                    what: "SSH directory",
                },
            ],
            user: User {
                uid: 1234,
                gid: 5678,
            },
            network: Network::None,
            limits: Limits::default(),
            workflow_id: "sandbox-1".to_owned(),
            owner: "host:42:99".to_owned(),
        }
    }

    #[test]
    fn names_that_look_like_credentials_are_recognised() {
        for name in [
            ".env",
            ".env.local",
            "server.PEM",
            "tls.key",
            "id_rsa",
            "id_ed25519",
            ".npmrc",
            ".netrc",
            "credentials-prod.json",
            "kubeconfig",
            "prod.tfvars",
            ".ssh",
        ] {
            assert!(secret_kind(name).is_some(), "{name}");
        }
        for name in [
            "id_rsa.pub",
            ".env.example",
            "main.rs",
            "keys.rs",
            "credentials.txt",
        ] {
            assert_eq!(secret_kind(name), None, "{name}");
        }
    }

    #[test]
    fn the_container_is_hardened_whatever_the_fields_say() {
        let config = spec().container_config();
        let host = config.host_config.clone().unwrap_or_default();
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges:true".to_owned()])
        );
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.pids_limit, Some(512));
        assert_eq!(host.memory, Some(2 << 30));
        assert_eq!(host.memory_swap, host.memory);
        assert_eq!(host.cpu_quota, Some(200_000));
        assert_eq!(host.init, Some(true));
        assert_eq!(host.privileged, None);
        assert_eq!(config.user.as_deref(), Some("1234:5678"));
        assert_eq!(config.env, Some(vec![format!("HOME={HOME_DIR}")]));
        let tmpfs = host.tmpfs.unwrap_or_default();
        assert!(tmpfs["/tmp"].contains("mode=1777"));
        assert!(tmpfs[HOME_DIR].contains("uid=1234,gid=5678"));
        let labels = config.labels.unwrap_or_default();
        assert_eq!(labels[WORKFLOW_LABEL], "sandbox-1");
        assert_eq!(labels[VERSION_LABEL], DW_VERSION);
        assert_eq!(labels[OWNER_LABEL], "host:42:99");
    }

    #[test]
    fn only_the_workspace_the_executor_and_the_masks_are_mounted() {
        let mounts = spec().mounts();
        type Summary = (String, Option<String>, Option<MountType>, Option<bool>);
        let summary: Vec<Summary> = mounts
            .into_iter()
            .map(|mount| {
                (
                    mount.target.unwrap_or_default(),
                    mount.source,
                    mount.typ,
                    mount.read_only,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "/workspace".to_owned(),
                    Some("/home/me/project".to_owned()),
                    Some(MountType::BIND),
                    Some(false)
                ),
                (
                    EXECUTOR_PATH.to_owned(),
                    Some("/usr/local/bin/dw-agent".to_owned()),
                    Some(MountType::BIND),
                    Some(true)
                ),
                (
                    "/workspace/.env".to_owned(),
                    Some("/home/me/.cache/dw/empty".to_owned()),
                    Some(MountType::BIND),
                    Some(true)
                ),
                (
                    "/workspace/deploy/.ssh".to_owned(),
                    None,
                    Some(MountType::TMPFS),
                    Some(true)
                ),
            ]
        );
    }

    #[test]
    fn the_owner_names_this_host_this_process_and_when_it_started() {
        let owner = owner_of_this_process();
        let parts: Vec<&str> = owner.rsplitn(3, ':').collect();
        assert_eq!(parts.len(), 3, "{owner}");
        assert_eq!(parts[1], std::process::id().to_string(), "{owner}");
        assert!(!parts[2].is_empty(), "{owner}");
        assert!(parts[0].parse::<u64>().is_ok(), "{owner}");
    }

    #[test]
    fn allow_network_means_the_default_bridge() {
        let mut spec = spec();
        spec.network = Network::Bridge;
        let config = spec.container_config();
        assert_eq!(config.network_disabled, Some(false));
        assert_eq!(
            config
                .host_config
                .unwrap_or_default()
                .network_mode
                .as_deref(),
            Some("bridge")
        );
    }
}
