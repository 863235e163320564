//! The evidence PDF's typeface: Liberation Sans (SIL OFL 1.1, `assets/fonts/OFL.txt`), compiled
//! into the binary so no system font is needed, and embedded (subset) in each PDF so names in any
//! Latin, Greek or Cyrillic script print as typed. Also measures and wraps text for the layout.

use super::EvidenceError;
use printpdf::{FontId, ParsedFont, PdfDocument};

const REGULAR: &[u8] = include_bytes!("../../assets/fonts/LiberationSans-Regular.ttf");
const BOLD: &[u8] = include_bytes!("../../assets/fonts/LiberationSans-Bold.ttf");

/// A weight of the typeface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Weight {
    Regular,
    Bold,
}

/// A face's glyph advances, in thousandths of an em.
struct Metrics {
    /// Advances of the Latin-1 characters, looked up directly (most text).
    latin1: [f32; 256],
    font: ParsedFont,
    units_per_em: f32,
}

impl Metrics {
    fn new(font: ParsedFont) -> Self {
        let units_per_em = f32::from(font.units_per_em.max(1));
        let mut latin1 = [0.0; 256];
        for (i, slot) in (0u8..=255).zip(latin1.iter_mut()) {
            *slot = lookup(&font, units_per_em, char::from(i));
        }
        Self { latin1, font, units_per_em }
    }

    fn lookup(&self, c: char) -> f32 {
        lookup(&self.font, self.units_per_em, c)
    }

    fn advance(&self, c: char) -> f32 {
        match u8::try_from(u32::from(c)) {
            Ok(b) => self.latin1[usize::from(b)],
            Err(_) => self.lookup(c),
        }
    }
}

/// The advance of `c` in `font`, in thousandths of an em (that of the missing glyph if absent).
fn lookup(font: &ParsedFont, units_per_em: f32, c: char) -> f32 {
    let gid = font.lookup_glyph_index(u32::from(c)).unwrap_or(0);
    f32::from(font.get_glyph_width(gid).unwrap_or(0)) * 1000.0 / units_per_em
}

/// Both weights, registered with one document.
pub(super) struct Fonts {
    regular: Metrics,
    bold: Metrics,
    regular_id: FontId,
    bold_id: FontId,
}

impl Fonts {
    /// Parses the embedded faces and adds them to `doc`'s resources.
    pub(super) fn load(doc: &mut PdfDocument) -> Result<Self, EvidenceError> {
        let parse =
            |bytes: &[u8], name| ParsedFont::from_bytes(bytes, 0, &mut Vec::new()).ok_or(EvidenceError::Font(name));
        let regular = parse(REGULAR, "LiberationSans-Regular")?;
        let bold = parse(BOLD, "LiberationSans-Bold")?;
        let regular_id = doc.add_font(&regular);
        let bold_id = doc.add_font(&bold);
        Ok(Self { regular: Metrics::new(regular), bold: Metrics::new(bold), regular_id, bold_id })
    }

    /// The document's resource id of a weight.
    pub(super) fn id(&self, weight: Weight) -> &FontId {
        match weight {
            Weight::Regular => &self.regular_id,
            Weight::Bold => &self.bold_id,
        }
    }

    fn metrics(&self, weight: Weight) -> &Metrics {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }

    /// The width of `text` set at `size` points, in points.
    pub(super) fn width(&self, text: &str, weight: Weight, size: f32) -> f32 {
        let m = self.metrics(weight);
        text.chars().map(|c| m.advance(c)).sum::<f32>() * size / 1000.0
    }

    /// Breaks `text` into lines no wider than `max` points: at spaces where it can, inside a word
    /// only when the word alone is wider than a line (a long username, a digest). Line breaks in
    /// the text are kept; an empty text gives no lines.
    pub(super) fn wrap(&self, text: &str, weight: Weight, size: f32, max: f32) -> Vec<String> {
        let m = self.metrics(weight);
        let scale = size / 1000.0;
        let space = m.advance(' ') * scale;
        let mut lines = Vec::new();
        for paragraph in text.lines() {
            let mut line = String::new();
            let mut line_w = 0.0;
            for word in paragraph.split_whitespace() {
                let word_w = word.chars().map(|c| m.advance(c)).sum::<f32>() * scale;
                if !line.is_empty() && line_w + space + word_w <= max {
                    line.push(' ');
                    line.push_str(word);
                    line_w += space + word_w;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                line_w = 0.0;
                if word_w <= max {
                    line.push_str(word);
                    line_w = word_w;
                    continue;
                }
                for c in word.chars() {
                    let w = m.advance(c) * scale;
                    if !line.is_empty() && line_w + w > max {
                        lines.push(std::mem::take(&mut line));
                        line_w = 0.0;
                    }
                    line.push(c);
                    line_w += w;
                }
            }
            if !line.is_empty() {
                lines.push(line);
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::{Fonts, Weight};
    use printpdf::PdfDocument;

    #[test]
    fn wraps_at_spaces_and_inside_words_only_when_needed() {
        let fonts = Fonts::load(&mut PdfDocument::new("t")).unwrap();
        let max = fonts.width("Dana Ruiz", Weight::Regular, 10.0) + 1.0;
        assert_eq!(fonts.wrap("Dana Ruiz Dana Ruiz", Weight::Regular, 10.0, max), ["Dana Ruiz", "Dana Ruiz"]);
        let digest = "9f2c4e1ab07d3c58e61f0a2b9d84c7e3f15a6b20c9d8e7f4a3b2c1d0e9f8a7b6";
        let lines = fonts.wrap(digest, Weight::Regular, 10.0, 100.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), digest);
        assert!(lines.iter().all(|l| fonts.width(l, Weight::Regular, 10.0) <= 100.0));
        assert!(fonts.wrap("  ", Weight::Regular, 10.0, 100.0).is_empty());
        assert_eq!(fonts.wrap("a\nb", Weight::Regular, 10.0, 100.0), ["a", "b"]);
    }

    #[test]
    fn bold_is_wider_and_unknown_characters_measure() {
        let fonts = Fonts::load(&mut PdfDocument::new("t")).unwrap();
        assert!(fonts.width("Keep", Weight::Bold, 10.0) > fonts.width("Keep", Weight::Regular, 10.0));
        assert!(fonts.width("Nguyễn →", Weight::Regular, 10.0) > fonts.width("Nguy", Weight::Regular, 10.0));
    }
}
