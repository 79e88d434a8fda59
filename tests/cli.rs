//! The command line itself: help, global flags, exit codes, colour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use dw_test_support::home::TempHome;

fn dw(home: &TempHome) -> std::process::Command {
    home.command(env!("CARGO_BIN_EXE_dw"))
}

#[test]
fn help_lists_every_command_and_global_flag() {
    let home = TempHome::new();
    let output = dw(&home).arg("--help").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["setup", "doctor", "run", "workflows", "sandbox", "runtimes"] {
        assert!(
            help.lines()
                .any(|line| line.trim_start().starts_with(command)),
            "`{command}` missing from:\n{help}"
        );
    }
    for flag in ["--json", "--color <WHEN>", "--verbose", "--host <URL>"] {
        assert!(help.contains(flag), "`{flag}` missing from:\n{help}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let home = TempHome::new();
    for args in [
        &["no-such-command"][..],
        &["runtimes", "--color", "sometimes"],
        &[],
    ] {
        let output = dw(&home).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn usage_errors_exit_2_and_say_what_to_do() {
    let home = TempHome::new();
    let state = home.dir("state");
    let run = |args: &[&str]| {
        dw(&home)
            .env("DW_STATE_DIR", &state)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let unknown = run(&["run", "--some-flag"]);
    assert_eq!(unknown.status.code(), Some(2));
    let no_goal = run(&["run", "--provider", "script", "--script", "/dev/null"]);
    assert_eq!(no_goal.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_goal.stderr).contains("no goal"));
    let missing = run(&["workflows", "show", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("there is no workflow nope"));
    let list = run(&["workflows", "list"]);
    assert_eq!(list.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&list.stdout).contains("No workflows yet"));
    let json = run(&["workflows", "list", "--json"]);
    assert_eq!(String::from_utf8_lossy(&json.stdout).trim(), "[]");
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let home = TempHome::new();
    let has_escapes = |output: &std::process::Output| output.stdout.contains(&0x1b);
    let always = dw(&home)
        .args(["runtimes", "--color", "always"])
        .output()
        .unwrap();
    assert!(has_escapes(&always));
    let never = dw(&home)
        .args(["runtimes", "--color", "never"])
        .output()
        .unwrap();
    assert!(!has_escapes(&never));
    // Not a terminal: auto means no colour, whatever NO_COLOR says.
    let auto = dw(&home).args(["runtimes"]).output().unwrap();
    assert!(!has_escapes(&auto));
}

#[test]
fn no_color_wins_over_a_terminal() {
    // `script` gives dw a real terminal; NO_COLOR must still turn colour off.
    let home = TempHome::new();
    let run = |no_color: bool| {
        let mut command = std::process::Command::new("script");
        command
            .args(["-qfec"])
            .arg(format!("{} runtimes", env!("CARGO_BIN_EXE_dw")))
            .arg("/dev/null")
            .env("HOME", home.path())
            .env_remove("DOCKER_HOST");
        if no_color {
            command.env("NO_COLOR", "1");
        } else {
            command.env_remove("NO_COLOR");
        }
        command.output().unwrap()
    };
    assert!(run(false).stdout.contains(&0x1b), "a terminal gets colour");
    assert!(!run(true).stdout.contains(&0x1b), "NO_COLOR turns it off");
}
