//! The session as a whole: concurrency, cancel and timeout of process groups, the output cap
//! and memory, malformed lines, and the end of input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use dw_protocol::request::{Cancel, FindFiles, Hello, ReadFile, RunCommand};
use dw_protocol::{ErrorKind, Outgoing, Response};
use support::{World, assert_group_gone, peak_rss_kib};

/// `sh -c <script>`.
fn shell(script: &str) -> RunCommand {
    RunCommand {
        program: "sh".into(),
        args: vec!["-c".into(), script.into()],
        ..RunCommand::default()
    }
}

/// A command that prints its process group (its own pid, as the group's leader), then leaves a
/// background child and a foreground child sleeping in that group.
const SLEEPING_GROUP: &str = "echo $$; sleep 100 & sleep 100";

#[test]
fn reads_are_answered_while_a_command_runs() {
    let world = World::new();
    world.file("root/a.txt", "a");
    let mut agent = world.start();
    let sleeper = agent.send(shell("sleep 5"));
    let reads: Vec<u64> = (0..100)
        .map(|_| {
            agent.send(ReadFile {
                path: "a.txt".into(),
                ..ReadFile::default()
            })
        })
        .collect();
    let mut answered = Vec::new();
    loop {
        match agent.next() {
            Outgoing::Response(response) if response.id == Some(sleeper) => break,
            Outgoing::Response(response) => {
                assert!(response.outcome.is_ok());
                answered.push(response.id.unwrap());
            }
            Outgoing::Event(event) => panic!("unexpected {event:?}"),
        }
    }
    answered.sort_unstable();
    assert_eq!(
        answered, reads,
        "every read is answered before the sleep ends"
    );
}

#[test]
fn cancel_kills_the_whole_process_group() {
    let world = World::new();
    let mut agent = world.start();
    let id = agent.send(shell(SLEEPING_GROUP));
    let group: u32 = agent.first_line(id).parse().unwrap();
    assert!(!support::live_members(group).is_empty());
    assert!(agent.call(Cancel { target: id }).unwrap().cancelled);
    let response: Response = agent.response(id);
    assert_eq!(response.outcome.unwrap_err().kind, ErrorKind::Cancelled);
    assert_group_gone(group);
    assert!(!agent.call(Cancel { target: id }).unwrap().cancelled);
}

#[test]
fn a_timeout_kills_the_whole_process_group_and_keeps_the_output() {
    let world = World::new();
    let mut agent = world.start();
    let id = agent.send(RunCommand {
        // Long enough for the shell to print its pid first, even on a loaded machine.
        timeout_ms: Some(1500),
        ..shell(SLEEPING_GROUP)
    });
    let group: u32 = agent.first_line(id).parse().unwrap();
    let result = agent
        .response::<dw_protocol::result::CommandResult>(id)
        .outcome
        .unwrap();
    assert!(result.timed_out);
    assert_eq!((result.exit_code, result.signal), (None, Some(9)));
    assert_eq!(result.output, format!("{group}\n"));
    assert_group_gone(group);
}

#[test]
fn cancelling_a_search_answers_consistently() {
    let world = World::new();
    let mut agent = world.start();
    // Cancelling a search that already finished is a no; the point is that the id is
    // registered while it runs, and that the answer is one of the two documented ones.
    let id = agent.send(FindFiles {
        pattern: "*".into(),
        path: None,
    });
    let cancelled = agent.call(Cancel { target: id }).unwrap().cancelled;
    let response: Response = agent.response(id);
    match response.outcome {
        Ok(_) => assert!(!cancelled),
        Err(failure) => {
            assert!(cancelled);
            assert_eq!(failure.kind, ErrorKind::Cancelled);
        }
    }
}

#[test]
fn output_beyond_the_cap_is_dropped_and_memory_stays_flat() {
    let world = World::new();
    let mut agent = world.start();
    let (events, result) = agent.call_streaming(shell("head -c 50000000 /dev/zero | tr '\\0' a"));
    let result = result.unwrap();
    let cap = 1 << 20;
    assert_eq!(result.exit_code, Some(0));
    assert!(result.truncated);
    assert_eq!(result.output.len(), cap);
    assert!(result.output.bytes().all(|byte| byte == b'a'));
    let streamed: usize = events.iter().map(|event| event.data.len()).sum();
    assert_eq!(streamed, cap, "events are capped like the output");
    let peak = peak_rss_kib(agent.pid());
    assert!(peak < 32 * 1024, "the executor peaked at {peak} KiB");
}

#[test]
fn malformed_lines_are_answered_and_the_session_goes_on() {
    let world = World::new();
    let mut agent = world.start();
    let cases: [(&[u8], Option<u64>); 7] = [
        (b"not json", None),
        (b"[1, 2]", None),
        (b"{\"op\": \"hello\"}", None),
        (b"\xFF\xFE{}", None),
        (b"{\"id\": 5, \"op\": \"bogus\"}", Some(5)),
        (b"{\"id\": 6, \"op\": \"read_file\"}", Some(6)),
        (
            b"{\"id\": 7, \"op\": \"read_file\", \"path\": \"a\", \"offest\": 1}",
            Some(7),
        ),
    ];
    for (line, id) in cases {
        agent.send_raw(line);
        let Outgoing::Response(response) = agent.next() else {
            panic!("no response to {line:?}");
        };
        assert_eq!(response.id, id, "{line:?}");
        let failure = response.outcome.unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidRequest, "{line:?}");
    }
    agent.send_raw(b"   ");
    assert!(agent.call(Hello {}).is_ok());
}

#[test]
fn a_line_over_the_limit_is_too_large_and_not_kept() {
    let world = World::new();
    let mut agent = world.start();
    let mut line = br#"{"id": 1, "op": "write_file", "path": "big", "content": ""#.to_vec();
    // Past the executor's limit of 32 MiB: the excess must be skipped, not kept.
    line.resize(40 << 20, b'x');
    line.extend_from_slice(br#""}"#);
    agent.send_raw(&line);
    let Outgoing::Response(response) = agent.next() else {
        panic!("no response");
    };
    assert_eq!(response.id, None);
    assert_eq!(response.outcome.unwrap_err().kind, ErrorKind::TooLarge);
    assert!(agent.call(Hello {}).is_ok());
    assert!(!world.root().join("big").exists());
    let peak = peak_rss_kib(agent.pid());
    assert!(peak < 48 * 1024, "the executor peaked at {peak} KiB");
}

#[test]
fn the_end_of_input_kills_running_commands_and_exits_zero() {
    let world = World::new();
    let mut agent = world.start();
    let id = agent.send(shell(SLEEPING_GROUP));
    let group: u32 = agent.first_line(id).parse().unwrap();
    agent.close_stdin();
    let rest = agent.drain();
    // The killed command still answers, so the host learns how it ended.
    let ends: Vec<_> = rest
        .iter()
        .filter_map(|message| match message {
            Outgoing::Response(response) => Some(response.id),
            Outgoing::Event(_) => None,
        })
        .collect();
    assert_eq!(ends, [Some(id)]);
    assert!(agent.wait().success());
    assert_group_gone(group);
}
