//! `netlab lab list` and `netlab lab run N`: the guided labs, the same code as the lab binaries
//! (`cargo run --release --bin lab01`), run in-process through netlab-labs.

use std::process::ExitCode;

use clap::Subcommand;
use netlab_labs::{LabOptions, Style};

#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// List the labs: number, title, minutes, how to run each.
    List {
        /// One JSON object per lab instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run lab N (interactive unless --ci, --json or --answers).
    Run {
        /// The lab's number, e.g. 1 for lab01.
        number: u32,
        #[command(flatten)]
        options: LabOptions,
    },
}

pub fn run(command: LabCommand) -> ExitCode {
    match command {
        LabCommand::List { json: false } => {
            println!("{}", netlab_labs::list_table(Style::detect()));
            ExitCode::SUCCESS
        }
        LabCommand::List { json: true } => {
            for lab in netlab_labs::all() {
                let line = serde_json::json!({
                    "lab": lab.number,
                    "title": lab.title,
                    "minutes": lab.minutes,
                    "binary": lab.binary(),
                    "guide": format!("labs/guides/{:02}-{}.md", lab.number, lab.slug),
                });
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        LabCommand::Run { number, options } => match netlab_labs::find(number) {
            Ok(lab) => netlab_labs::run(lab, options),
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
    }
}
