//! The `bosun` binary: parses the command line and dispatches. No logic lives here.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Private by default: whatever bosun, its tmux server and its agents create is 0600/0700.
    bosun::private::restrict_umask();
    // `COMPLETE=bash bosun -- …`: the shell asks for completions (see `bosun completions`).
    clap_complete::CompleteEnv::with_factory(<bosun::cli::Cli as clap::CommandFactory>::command)
        .complete();
    let cli = bosun::cli::Cli::parse();
    let _guard = bosun::logging::init(cli.log_file.as_deref());
    match bosun::cmd::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Each cause once: a source whose text its error already holds is left out.
            let mut message = String::new();
            for cause in e.chain().map(ToString::to_string) {
                if !message.contains(&cause) {
                    if !message.is_empty() {
                        message.push_str(": ");
                    }
                    message.push_str(&cause);
                }
            }
            tracing::error!("{message}");
            // Error messages can quote agent or task text: never raw, piped or not (a pipe
            // often ends in a terminal too).
            eprintln!("bosun: {}", bosun::text::clean_lines(&message));
            // Someone else decided first: a distinct status scripts can tell from a failure.
            let conflict = bosun::decide::lost(&e);
            if conflict {
                std::process::ExitCode::from(3)
            } else {
                std::process::ExitCode::FAILURE
            }
        }
    }
}
