//! The PDF evidence: one signed review per page (US Letter, landscape), its facts, a table of the
//! decisions and the review's digest; a review too long for a page continues on the next under a
//! "(continued)" heading and the repeated table header. Every page ends with "Page n of m".
//! The drawing goes through printpdf's operations: no PDF syntax is written here.

use super::fonts::{Fonts, Weight};
use super::{EvidenceDecision, EvidenceError, EvidenceReview};
use printpdf::{
    Color, Line, LinePoint, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, Rect, Rgb,
    TextItem,
};

const PAGE_W: f32 = 792.0;
const PAGE_H: f32 = 612.0;
const MARGIN_X: f32 = 44.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN_X;
const TOP: f32 = 36.0;
/// Where the body stops; the footer is below.
const BODY_BOTTOM: f32 = PAGE_H - 48.0;

const BODY_SIZE: f32 = 8.5;
const LINE_H: f32 = 10.5;
const CELL_PAD_X: f32 = 4.0;
const CELL_PAD_Y: f32 = 5.0;

const INK: Ink = rgb(0.11, 0.13, 0.16);
const MUTED: Ink = rgb(0.38, 0.41, 0.45);
const RULE: Ink = rgb(0.78, 0.80, 0.83);
const HEADER_FILL: Ink = rgb(0.92, 0.94, 0.96);
const ACCENT: Ink = rgb(0.09, 0.27, 0.45);

/// The table's columns: title and width in points (they add up to [`CONTENT_W`]).
const COLUMNS: [(&str, f32); 7] = [
    ("User", 116.0),
    ("User type", 84.0),
    ("Providers", 124.0),
    ("Admin", 34.0),
    ("Last sign-in", 110.0),
    ("Decision", 116.0),
    ("Decided by", 120.0),
];

/// A colour of ink (red, green, blue from 0 to 1).
#[derive(Debug, Clone, Copy)]
struct Ink(f32, f32, f32);

impl Ink {
    fn color(self) -> Color {
        Color::Rgb(Rgb { r: self.0, g: self.1, b: self.2, icc_profile: None })
    }
}

const fn rgb(r: f32, g: f32, b: f32) -> Ink {
    Ink(r, g, b)
}

/// Renders signed reviews as a PDF: one review per page (continued on following pages when its
/// decisions do not fit), each review's digest under its last row, and "Page n of m" on every
/// page. An empty list gives one page saying there are no signed reviews. `title` heads every
/// page and names the document (e.g. "Sunrise Health Plan — access reviews signed 1 Jan to 31
/// Mar 2027").
pub fn pdf(reviews: &[EvidenceReview], title: &str) -> Result<Vec<u8>, EvidenceError> {
    let mut doc = PdfDocument::new(title);
    doc.metadata.info.creator = "Gatehouse".to_owned();
    doc.metadata.info.subject = "Access review evidence".to_owned();
    let fonts = Fonts::load(&mut doc)?;
    let mut pages = Pages { fonts: &fonts, title, done: Vec::new(), ops: Vec::new(), y: 0.0 };
    if reviews.is_empty() {
        pages.start(None);
        pages.text(MARGIN_X, pages.y + 15.0, "Access review evidence", Weight::Bold, 15.0, INK);
        pages.y += 36.0;
        pages.text(MARGIN_X, pages.y, "No signed access reviews in this range.", Weight::Regular, 10.0, INK);
    }
    for review in reviews {
        pages.review(review);
    }
    let total = pages.finish();
    let pdf_pages = total
        .into_iter()
        .map(|ops| PdfPage {
            media_box: Rect::from_wh(Pt(PAGE_W), Pt(PAGE_H)),
            trim_box: Rect::from_wh(Pt(PAGE_W), Pt(PAGE_H)),
            crop_box: Rect::from_wh(Pt(PAGE_W), Pt(PAGE_H)),
            ops,
        })
        .collect();
    doc.with_pages(pdf_pages);
    Ok(doc.save(&PdfSaveOptions::default(), &mut Vec::new()))
}

/// One line of a cell: its text and how it is set.
struct CellLine {
    text: String,
    weight: Weight,
    color: Ink,
}

/// A table row: the lines of each column's cell, already wrapped to the column.
struct Row {
    cells: Vec<Vec<CellLine>>,
}

impl Row {
    fn lines(&self) -> usize {
        self.cells.iter().map(Vec::len).max().unwrap_or(0).max(1)
    }

    fn height(&self) -> f32 {
        height_of(self.lines())
    }

    /// Takes the first `n` lines of every cell, leaving the rest in `self`.
    fn split_off_top(&mut self, n: usize) -> Row {
        let cells = self.cells.iter_mut().map(|c| c.drain(..n.min(c.len())).collect()).collect();
        Row { cells }
    }
}

fn height_of(lines: usize) -> f32 {
    lines as f32 * LINE_H + 2.0 * CELL_PAD_Y
}

/// The pages laid out so far, and the one being drawn (`ops`, with `y` measured from the top).
struct Pages<'a> {
    fonts: &'a Fonts,
    title: &'a str,
    done: Vec<Vec<Op>>,
    ops: Vec<Op>,
    y: f32,
}

impl Pages<'_> {
    /// Ends the page being drawn (if any) and starts one with the running header.
    fn start(&mut self, review_id: Option<i64>) {
        if !self.ops.is_empty() {
            self.done.push(std::mem::take(&mut self.ops));
        }
        self.y = TOP;
        let title: String =
            self.fonts.wrap(self.title, Weight::Regular, 8.0, CONTENT_W - 120.0).into_iter().take(1).collect();
        self.text(MARGIN_X, self.y + 8.0, &title, Weight::Regular, 8.0, MUTED);
        if let Some(id) = review_id {
            let label = format!("Review {id}");
            let w = self.fonts.width(&label, Weight::Regular, 8.0);
            self.text(PAGE_W - MARGIN_X - w, self.y + 8.0, &label, Weight::Regular, 8.0, MUTED);
        }
        self.y += 13.0;
        self.rule(MARGIN_X, PAGE_W - MARGIN_X, self.y, 1.2, ACCENT);
        self.y += 14.0;
    }

    /// Lays out one signed review from the top of a new page.
    fn review(&mut self, r: &EvidenceReview) {
        let mut rows: Vec<Row> = r.decisions.iter().map(|d| self.row(d)).collect();
        rows.reverse();
        self.review_heading(r, false);
        self.facts(r);
        self.table_header();
        let mut fresh = true;
        while let Some(mut row) = rows.pop() {
            let room = BODY_BOTTOM - self.y;
            if row.height() <= room {
                self.draw_row(&row);
                fresh = false;
                continue;
            }
            if fresh {
                // Taller than a whole page: draw what fits, carry the rest over.
                let fit = ((room - 2.0 * CELL_PAD_Y) / LINE_H).floor().max(1.0) as usize;
                let top = row.split_off_top(fit);
                self.draw_row(&top);
                rows.push(row);
            } else {
                rows.push(row);
            }
            self.review_heading(r, true);
            self.table_header();
            fresh = true;
        }
        if r.decisions.is_empty() {
            self.text(
                MARGIN_X + CELL_PAD_X,
                self.y + 14.0,
                "No decisions recorded.",
                Weight::Regular,
                BODY_SIZE,
                MUTED,
            );
            self.y += 22.0;
        }
        self.digest(r);
    }

    /// Starts a page of the review with its heading; on the following pages "(continued)" and a
    /// reminder of the Tax ID and signature.
    fn review_heading(&mut self, r: &EvidenceReview, continued: bool) {
        self.start(Some(r.review_id));
        let mut heading = format!("Access review — {}", r.practice_name);
        if continued {
            heading.push_str(" (continued)");
        }
        for line in self.fonts.wrap(&heading, Weight::Bold, 15.0, CONTENT_W) {
            self.text(MARGIN_X, self.y + 13.0, &line, Weight::Bold, 15.0, INK);
            self.y += 19.0;
        }
        if continued {
            let sub = format!("Tax ID {}  ·  signed {} by {}", r.tax_id, r.signed_at, r.signed_by);
            for line in self.fonts.wrap(&sub, Weight::Regular, 9.0, CONTENT_W) {
                self.text(MARGIN_X, self.y + 9.0, &line, Weight::Regular, 9.0, MUTED);
                self.y += 12.0;
            }
        }
        self.y += 8.0;
    }

    /// The review's facts, as label and value pairs in two columns, then its notes.
    fn facts(&mut self, r: &EvidenceReview) {
        let col_w = CONTENT_W / 2.0;
        let label_w = 84.0;
        let left = [("Practice", r.practice_name.as_str()), ("Tax ID", r.tax_id.as_str()), ("Review due", &r.due_on)];
        let right = [("Plan", r.plan_name.as_str()), ("Signed", &r.signed_at), ("Signed by", &r.signed_by)];
        let top = self.y;
        let mut bottom = top;
        for (x, pairs) in [(MARGIN_X, left), (MARGIN_X + col_w, right)] {
            let mut y = top;
            for (label, value) in pairs {
                self.text(x, y + 9.0, label, Weight::Bold, 8.5, MUTED);
                for line in self.fonts.wrap(value, Weight::Regular, 9.5, col_w - label_w - 12.0) {
                    self.text(x + label_w, y + 9.0, &line, Weight::Regular, 9.5, INK);
                    y += 13.0;
                }
                y += 2.0;
            }
            bottom = bottom.max(y);
        }
        self.y = bottom + 2.0;
        let notes = [
            r.on_behalf.as_ref().map(|who| format!("Reviewed by plan staff on the practice's behalf: {who}")),
            r.sole_admin_note.clone(),
        ];
        for note in notes.into_iter().flatten() {
            let lines = self.fonts.wrap(&note, Weight::Regular, 9.0, CONTENT_W - 16.0);
            let h = lines.len() as f32 * 12.0 + 8.0;
            self.fill(MARGIN_X, self.y, 3.0, h, ACCENT);
            let mut y = self.y + 4.0;
            for line in lines {
                self.text(MARGIN_X + 10.0, y + 9.0, &line, Weight::Regular, 9.0, INK);
                y += 12.0;
            }
            self.y += h + 6.0;
        }
        self.y += 8.0;
    }

    fn table_header(&mut self) {
        let h = 18.0;
        self.fill(MARGIN_X, self.y, CONTENT_W, h, HEADER_FILL);
        let mut x = MARGIN_X;
        for (name, w) in COLUMNS {
            self.text(x + CELL_PAD_X, self.y + 12.0, name, Weight::Bold, 8.0, INK);
            x += w;
        }
        self.y += h;
        self.rule(MARGIN_X, PAGE_W - MARGIN_X, self.y, 0.6, MUTED);
    }

    /// Wraps one decision into a row.
    fn row(&self, d: &EvidenceDecision) -> Row {
        let cell = |parts: &[(&str, Weight, Ink)], col: usize| -> Vec<CellLine> {
            let width = COLUMNS[col].1 - 2.0 * CELL_PAD_X;
            parts
                .iter()
                .flat_map(|&(text, weight, color)| {
                    self.fonts.wrap(text, weight, BODY_SIZE, width).into_iter().map(move |text| CellLine {
                        text,
                        weight,
                        color,
                    })
                })
                .collect()
        };
        let decision_color = match d.decision.as_str() {
            "Keep" => rgb(0.10, 0.40, 0.22),
            "Deactivate" => rgb(0.66, 0.12, 0.12),
            _ => rgb(0.60, 0.36, 0.0),
        };
        let reason = d.reason.as_ref().map(|r| format!("Reason: {r}"));
        let mut decision = vec![(d.decision.as_str(), Weight::Bold, decision_color)];
        decision.extend(d.change.as_deref().map(|c| (c, Weight::Regular, INK)));
        decision.extend(reason.as_deref().map(|r| (r, Weight::Regular, MUTED)));
        let cells = vec![
            cell(&[(&d.user_name, Weight::Bold, INK), (&d.username, Weight::Regular, MUTED)], 0),
            cell(&[(&d.user_type, Weight::Regular, INK)], 1),
            cell(&[(&d.providers, Weight::Regular, INK)], 2),
            cell(&[if d.administrator { ("Yes", Weight::Bold, INK) } else { ("No", Weight::Regular, MUTED) }], 3),
            cell(&[(&d.last_signin, Weight::Regular, INK)], 4),
            cell(&decision, 5),
            cell(&[(&d.decided_by, Weight::Regular, INK), (&d.decided_at, Weight::Regular, MUTED)], 6),
        ];
        Row { cells }
    }

    fn draw_row(&mut self, row: &Row) {
        let mut x = MARGIN_X;
        for (cell, (_, w)) in row.cells.iter().zip(COLUMNS) {
            let mut y = self.y + CELL_PAD_Y + 8.0;
            for line in cell {
                self.text(x + CELL_PAD_X, y, &line.text, line.weight, BODY_SIZE, line.color);
                y += LINE_H;
            }
            x += w;
        }
        self.y += row.height();
        self.rule(MARGIN_X, PAGE_W - MARGIN_X, self.y, 0.4, RULE);
    }

    /// The digest block under the review's last row (on a new page if it does not fit).
    fn digest(&mut self, r: &EvidenceReview) {
        let label = "Review digest (SHA-256), as recorded in the audit log";
        let lines = self.fonts.wrap(&r.digest, Weight::Regular, 9.0, CONTENT_W - 20.0);
        let h = 24.0 + lines.len() as f32 * 12.0 + 22.0;
        if self.y + 14.0 + h > BODY_BOTTOM {
            self.review_heading(r, true);
        }
        self.y += 14.0;
        self.fill(MARGIN_X, self.y, CONTENT_W, h, HEADER_FILL);
        self.text(MARGIN_X + 10.0, self.y + 15.0, label, Weight::Bold, 8.5, INK);
        let mut y = self.y + 30.0;
        for line in lines {
            self.text(MARGIN_X + 10.0, y, &line, Weight::Regular, 9.0, INK);
            y += 12.0;
        }
        let note = "The signed review is frozen: any change to it would change this digest.";
        self.text(MARGIN_X + 10.0, y + 4.0, note, Weight::Regular, 8.0, MUTED);
        self.y += h;
    }

    /// Ends the last page and adds every page's footer ("Page n of m").
    fn finish(mut self) -> Vec<Vec<Op>> {
        if !self.ops.is_empty() {
            self.done.push(std::mem::take(&mut self.ops));
        }
        let total = self.done.len();
        let mut pages = std::mem::take(&mut self.done);
        for (i, page) in pages.iter_mut().enumerate() {
            self.ops = std::mem::take(page);
            let y = PAGE_H - 30.0;
            self.rule(MARGIN_X, PAGE_W - MARGIN_X, y - 12.0, 0.4, RULE);
            self.text(MARGIN_X, y, "Gatehouse access review evidence", Weight::Regular, 7.5, MUTED);
            let label = format!("Page {} of {total}", i + 1);
            let w = self.fonts.width(&label, Weight::Regular, 7.5);
            self.text(PAGE_W - MARGIN_X - w, y, &label, Weight::Regular, 7.5, MUTED);
            *page = std::mem::take(&mut self.ops);
        }
        pages
    }

    /// Sets one line of text with its baseline `baseline` points below the top of the page.
    fn text(&mut self, x: f32, baseline: f32, text: &str, weight: Weight, size: f32, color: Ink) {
        if text.is_empty() {
            return;
        }
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont { font: PdfFontHandle::External(self.fonts.id(weight).clone()), size: Pt(size) },
            Op::SetFillColor { col: color.color() },
            Op::SetTextCursor { pos: Point { x: Pt(x), y: Pt(PAGE_H - baseline) } },
            Op::ShowText { items: vec![TextItem::Text(text.to_owned())] },
            Op::EndTextSection,
        ]);
    }

    /// A horizontal rule `y` points below the top of the page.
    fn rule(&mut self, x1: f32, x2: f32, y: f32, thickness: f32, color: Ink) {
        let at = |x| LinePoint { p: Point { x: Pt(x), y: Pt(PAGE_H - y) }, bezier: false };
        self.ops.extend([
            Op::SetOutlineColor { col: color.color() },
            Op::SetOutlineThickness { pt: Pt(thickness) },
            Op::DrawLine { line: Line { points: vec![at(x1), at(x2)], is_closed: false } },
        ]);
    }

    /// A filled rectangle whose top edge is `y` points below the top of the page.
    fn fill(&mut self, x: f32, y: f32, w: f32, h: f32, color: Ink) {
        let mut rectangle = Rect::from_xywh(Pt(x), Pt(PAGE_H - y - h), Pt(w), Pt(h));
        rectangle.mode = Some(PaintMode::Fill);
        self.ops.extend([Op::SetFillColor { col: color.color() }, Op::DrawRectangle { rectangle }]);
    }
}

#[cfg(test)]
mod tests {
    use super::COLUMNS;

    #[test]
    fn columns_fill_the_width() {
        assert!((COLUMNS.iter().map(|c| c.1).sum::<f32>() - super::CONTENT_W).abs() < 0.01);
    }
}
