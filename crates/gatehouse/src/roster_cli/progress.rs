//! The import's progress bar on standard error (hidden when it is not a terminal).

use gatehouse_services::roster::{ImportProgress, ImportStage};
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicU8, Ordering};

/// A progress bar fed by the import's progress callback.
pub(super) struct Bar {
    bar: ProgressBar,
    stage: AtomicU8,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ")
}

impl Bar {
    pub(super) fn new() -> Self {
        Self { bar: ProgressBar::new(0), stage: AtomicU8::new(u8::MAX) }
    }

    /// Shows one progress report, restyling the bar when the stage changes.
    pub(super) fn update(&self, p: ImportProgress) {
        let code = p.stage as u8;
        if self.stage.swap(code, Ordering::Relaxed) != code {
            let (msg, template) = match p.stage {
                ImportStage::Reading => ("reading", "{msg:>9} [{bar:40}] {bytes}/{total_bytes}"),
                ImportStage::Comparing => ("comparing", "{msg:>9} [{bar:40}] {pos}/{len} lines"),
                ImportStage::Writing => ("writing", "{msg:>9} [{bar:40}] {pos}/{len} rows {eta}"),
                ImportStage::Done => ("done", "{msg:>9} [{bar:40}] {pos}/{len} lines {elapsed}"),
            };
            self.bar.set_style(style(template));
            self.bar.set_message(msg);
        }
        self.bar.set_length(p.total);
        self.bar.set_position(p.done);
    }

    /// Removes the bar.
    pub(super) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
