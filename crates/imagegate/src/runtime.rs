//! Opening what commands work with: the engine and the store, for resolved settings.

use imagegate_engine::Engine;
use imagegate_store::Store;

use crate::error::CliError;
use crate::progress::StderrProgress;
use crate::settings::Settings;

pub struct Runtime {
    pub settings: Settings,
    pub engine: Box<dyn Engine>,
    pub store: Store,
    pub progress: StderrProgress,
}

impl Runtime {
    pub fn open(settings: Settings) -> Result<Runtime, CliError> {
        let engine = imagegate_engine::detect(settings.engine)?;
        let store = Store::open(&settings.state_dir)?;
        let progress = StderrProgress::new(settings.quiet);
        Ok(Runtime { settings, engine, store, progress })
    }

    /// The project under test, as the flags name it, else as its git checkout says.
    pub fn project(&self, args: &crate::cli::ProjectArgs) -> imagegate_gate::Project {
        imagegate_gate::detect_project(
            &self.settings.config.root,
            args.commit.clone(),
            args.branch.clone(),
            &self.settings.state_dir,
        )
    }

    /// Resolves the settings, checks the images named on the command line (all when none are),
    /// and opens the engine and the store. Returns the images' names.
    pub fn open_for_images(
        global: &crate::cli::GlobalArgs,
        names: &[String],
    ) -> Result<(Runtime, Vec<String>), CliError> {
        let settings = crate::settings::resolve(global)?;
        let images =
            crate::settings::select_images(&settings.config, names)?.iter().map(|image| image.name.clone()).collect();
        Ok((Runtime::open(settings)?, images))
    }

    pub fn context(&self) -> imagegate_gate::Context<'_> {
        imagegate_gate::Context {
            config: &self.settings.config,
            engine: self.engine.as_ref(),
            store: &self.store,
            progress: &self.progress,
            state_dir: self.settings.state_dir.clone(),
        }
    }
}

/// Prints a JSON document on one line of stdout.
pub fn print_json<T: serde::Serialize>(document: &T) {
    match serde_json::to_string(document) {
        Ok(text) => println!("{text}"),
        Err(error) => eprintln!("error: failed to write JSON: {error}"),
    }
}
