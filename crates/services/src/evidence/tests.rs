use super::table::HEADER;
use super::*;

fn decision(i: usize) -> EvidenceDecision {
    EvidenceDecision {
        user_name: format!("User Number{i}"),
        username: format!("user{i}"),
        user_type: "Billing Staff".to_owned(),
        providers: "All providers".to_owned(),
        administrator: i == 0,
        last_signin: "Never".to_owned(),
        decision: "Keep".to_owned(),
        change: None,
        reason: None,
        decided_by: "Dana Ruiz (druiz)".to_owned(),
        decided_at: "Mar 12, 2027 10:02 AM EST".to_owned(),
    }
}

fn review(id: i64, practice: &str, decisions: usize) -> EvidenceReview {
    EvidenceReview {
        review_id: id,
        plan_name: "Sunrise Health Plan".to_owned(),
        practice_name: practice.to_owned(),
        tax_id: TaxId::parse("825671892").unwrap(),
        due_on: "Mar 15, 2027".to_owned(),
        signed_at: "Mar 12, 2027 10:07 AM EST".to_owned(),
        signed_by: "Dana Ruiz (druiz)".to_owned(),
        on_behalf: None,
        sole_admin_note: None,
        digest: format!("{id:0>4}9f2c4e1ab07d3c58e61f0a2b9d84c7e3f15a6b20c9d8e7f4a3b2c1d0e9f8"),
        decisions: (0..decisions).map(decision).collect(),
    }
}

fn read_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = ::csv::Reader::from_reader(bytes);
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r.records().map(|rec| rec.unwrap().iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

#[test]
fn csv_has_the_header_and_one_row_per_decision() {
    let out = csv(&[review(7, "Lakeside Family Medicine", 3), review(8, "Northgate Pediatrics", 2)]).unwrap();
    let (header, rows) = read_csv(&out);
    assert_eq!(header, HEADER);
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0][..4], ["7", "Sunrise Health Plan", "Lakeside Family Medicine", "825671892"]);
    assert_eq!(rows[0][10..17], ["User Number0", "user0", "Billing Staff", "All providers", "Yes", "Never", "Keep"]);
    assert_eq!(rows[1][14], "No");
    assert_eq!(rows[3][0], "8");
    assert!(rows[4][9].starts_with("00089f2c"), "the digest is on every row");
}

#[test]
fn csv_keeps_a_review_without_decisions() {
    let (_, rows) = read_csv(&csv(&[review(9, "Solo Practice", 0)]).unwrap());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][2], "Solo Practice");
    assert!(rows[0][10..].iter().all(String::is_empty));
}

#[test]
fn csv_quotes_commas_quotes_and_line_breaks() {
    let mut r = review(1, "Smith, Jones & \"Partners\"", 1);
    r.decisions[0].reason = Some("Moved to billing,\nstill part-time".to_owned());
    let out = csv(&[r]).unwrap();
    assert!(String::from_utf8_lossy(&out).contains("\"Smith, Jones & \"\"Partners\"\"\""));
    let (_, rows) = read_csv(&out);
    assert_eq!(rows[0][2], "Smith, Jones & \"Partners\"");
    assert_eq!(rows[0][18], "Moved to billing,\nstill part-time");
}

#[test]
fn csv_defuses_cells_a_spreadsheet_would_run() {
    let mut r = review(1, "=HYPERLINK(\"http://x\",\"y\")", 1);
    let d = &mut r.decisions[0];
    d.user_name = "+1 555".to_owned();
    d.username = "@sum".to_owned();
    d.reason = Some("-2+3".to_owned());
    d.change = Some("\tcmd".to_owned());
    d.user_type = "\rx".to_owned();
    d.providers = "Dr. A = B".to_owned();
    let (_, rows) = read_csv(&csv(&[r]).unwrap());
    let row = &rows[0];
    assert_eq!(row[2], "'=HYPERLINK(\"http://x\",\"y\")");
    assert_eq!([&row[10], &row[11], &row[12], &row[17], &row[18]], ["'+1 555", "'@sum", "'\rx", "'\tcmd", "'-2+3"]);
    assert_eq!(row[13], "Dr. A = B", "only the first character matters");
}

/// The page count, and each page's text.
fn read_pdf(bytes: &[u8]) -> Vec<String> {
    let doc = lopdf::Document::load_mem(bytes).unwrap();
    let pages = doc.get_pages();
    pages.keys().map(|n| doc.extract_text(&[*n]).unwrap()).collect()
}

#[test]
fn pdf_gives_one_page_per_small_review() {
    let reviews =
        [review(1, "Lakeside Family Medicine", 5), review(2, "Northgate Pediatrics", 8), review(3, "Elm St", 1)];
    let out = pdf(&reviews, "Sunrise Health Plan — reviews signed in March 2027").unwrap();
    assert!(out.starts_with(b"%PDF-"));
    let pages = read_pdf(&out);
    assert_eq!(pages.len(), 3);
    for (page, r) in pages.iter().zip(&reviews) {
        assert!(page.contains(&r.practice_name), "{page}");
        assert!(page.contains(&r.digest), "{page}");
        assert!(page.contains("825671892"));
    }
    assert!(pages[1].contains("Page 2 of 3"));
    assert!(pages[1].contains("user7"));
}

#[test]
fn pdf_of_no_reviews_is_one_page_saying_so() {
    let pages = read_pdf(&pdf(&[], "Sunrise Health Plan — reviews signed in March 2027").unwrap());
    assert_eq!(pages.len(), 1);
    assert!(pages[0].contains("No signed access reviews in this range."));
    assert!(pages[0].contains("Page 1 of 1"));
}

#[test]
fn pdf_continues_a_long_review_on_following_pages() {
    let pages = read_pdf(&pdf(&[review(5, "County Hospital", 200), review(6, "Elm St", 2)], "Reviews").unwrap());
    assert!(pages.len() > 5, "{} pages", pages.len());
    let n = pages.len();
    assert!(pages[0].contains("Access review — County Hospital") && !pages[0].contains("(continued)"));
    for (i, page) in pages[1..n - 1].iter().enumerate() {
        assert!(page.contains("County Hospital (continued)"), "page {}", i + 2);
        assert!(page.contains("Decided by"), "the table header repeats");
    }
    assert!(pages[n - 2].contains("user199") && pages[n - 2].contains(&review(5, "", 0).digest));
    assert!(!pages[0].contains(&review(5, "", 0).digest), "the digest closes the review");
    assert!(pages[n - 1].contains("Elm St") && pages[n - 1].contains(&format!("Page {n} of {n}")));
    let all = pages.concat();
    assert!((0..200).all(|i| all.contains(&format!("user{i}\n")) || all.contains(&format!("user{i} "))));
}

#[test]
fn pdf_splits_a_row_taller_than_a_page() {
    let mut r = review(1, "Big Group", 1);
    let npis: Vec<String> = (0..400).map(|i| format!("NPI{:07}", i)).collect();
    r.decisions[0].providers = npis.join(", ");
    let pages = read_pdf(&pdf(&[r], "Reviews").unwrap());
    assert!(pages.len() >= 2);
    let all = pages.concat();
    assert!(npis.iter().all(|npi| all.contains(npi.as_str())), "no provider is lost at the page break");
}

#[test]
fn pdf_prints_names_beyond_latin1_and_notes() {
    let mut r = review(1, "Łódź Clinic", 1);
    r.decisions[0].user_name = "Nguyễn Thị Minh".to_owned();
    r.decisions[0].change = Some("User type: Billing Staff → Clinical Staff".to_owned());
    r.on_behalf = Some("Sam Lee (slee)".to_owned());
    r.sole_admin_note = Some("Only administrator: their own access was confirmed by plan staff".to_owned());
    let page = &read_pdf(&pdf(&[r], "Reviews").unwrap())[0];
    for text in ["Łódź Clinic", "Nguyễn Thị Minh", "Billing Staff →", "behalf: Sam Lee (slee)", "Only administrator"]
    {
        assert!(page.contains(text), "{text} in {page}");
    }
}

#[test]
#[ignore = "timing: cargo test --release -p gatehouse-services evidence -- --ignored --nocapture"]
fn pdf_of_a_thousand_reviews_is_quick() {
    let reviews: Vec<_> = (0..1000).map(|i| review(i, "Lakeside Family Medicine", 10)).collect();
    let start = std::time::Instant::now();
    let out = pdf(&reviews, "Reviews").unwrap();
    let pdf_time = start.elapsed();
    let start = std::time::Instant::now();
    csv(&reviews).unwrap();
    println!("1,000 reviews × 10 decisions: PDF {pdf_time:?} ({} bytes), CSV {:?}", out.len(), start.elapsed());
}
