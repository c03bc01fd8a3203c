//! The Art. 15 register extract as a page a person can read: the data of
//! `valv_privacy::AccessReport`, rendered here, on the web side, with every
//! value escaped.

use valv_service::privacy::AccessReport;

/// The report as a readable HTML page (every value escaped).
#[must_use]
pub(crate) fn render_html(r: &AccessReport) -> String {
    let e = |s: &str| {
        s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
    };
    let mut h = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Register extract</title></head><body>",
    );
    h.push_str(&format!("<h1>Register extract</h1><p>Made {} under GDPR Art. 15.</p>", e(&r.generated_at)));
    if r.ambiguous {
        h.push_str("<p><strong>More than one record matched; check which concern this person.</strong></p>");
    }
    h.push_str("<h2>Why and how your data is processed</h2><table><tr><th>Data</th><th>Purpose</th><th>Legal basis</th><th>Categories</th><th>Recipients</th><th>Kept</th><th>Source</th></tr>");
    for p in &r.processing {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(&p.collection),
            e(&p.purpose),
            e(&p.legal_basis),
            e(&p.categories.join(", ")),
            e(&p.recipients.join(", ")),
            e(&p.retention),
            e(&p.source)
        ));
    }
    h.push_str("</table><h2>Accounts</h2><ul>");
    for u in &r.users {
        h.push_str(&format!(
            "<li>{} &lt;{}&gt;, {}, role {}</li>",
            e(&u.name),
            e(&u.email),
            e(&u.phone),
            e(u.role.as_str())
        ));
    }
    h.push_str("</ul><h2>Records</h2>");
    for rec in &r.records {
        h.push_str(&format!(
            "<h3>{} {} ({})</h3><pre>{}</pre>",
            e(&rec.collection),
            e(&rec.id),
            e(&rec.relation),
            e(&serde_json::to_string_pretty(&rec.current).unwrap_or_default())
        ));
        h.push_str(&format!("<p>{} revisions.</p>", rec.revisions.len()));
    }
    h.push_str("<h2>Files</h2><ul>");
    for f in &r.files {
        h.push_str(&format!("<li>{}/{} ({} versions)</li>", e(&f.folder), e(&f.name), f.versions));
    }
    h.push_str(&format!("</ul><h2>Activity</h2><p>{} journal entries concern you.</p></body></html>", r.journal.len()));
    h
}
