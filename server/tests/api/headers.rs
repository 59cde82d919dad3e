//! Security headers: a page's Content-Security-Policy allows only the app's own scripts
//! and WASM plus the inline scripts carrying this response's nonce, and forbids framing;
//! every other response gets a policy with no inline script at all; and every response
//! says nosniff, a referrer policy and no framing.

use crate::common::spawn_app;

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is set"))
        .to_str()
        .expect("ascii")
}

#[tokio::test]
async fn pages_carry_a_policy_with_their_nonce_and_everything_the_fixed_headers() {
    let app = spawn_app().await;
    let res = reqwest::get(format!("{}/login", app.base))
        .await
        .expect("GET");
    assert_eq!(res.status(), 200);
    let policy = header(&res, "content-security-policy").to_string();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("x-frame-options", "DENY"),
    ] {
        assert_eq!(header(&res, name), value);
    }
    let html = res.text().await.expect("html");
    // The nonce of the policy is the one the page's inline scripts carry, and every
    // inline script carries it.
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("a nonce in the policy");
    assert!(nonce.len() >= 16, "{nonce}");
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(!scripts.is_empty());
    for s in &scripts {
        let tag = s.split('>').next().unwrap_or_default();
        assert!(
            tag.contains(" src=") || tag.contains(&format!("nonce=\"{nonce}\"")),
            "an inline script without the nonce: <script{tag}>"
        );
    }
    for part in [
        "default-src 'self'",
        "'wasm-unsafe-eval'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(policy.contains(part), "{policy}");
    }
    assert!(
        !policy.contains("'unsafe-eval'") && !policy.contains("script-src 'self' 'unsafe-inline'"),
        "{policy}"
    );

    // Another page load gets another nonce.
    let again = reqwest::get(format!("{}/login", app.base))
        .await
        .expect("GET");
    assert!(!header(&again, "content-security-policy").contains(nonce));

    // Not a page: the fixed headers and a policy without any nonce.
    let res = reqwest::get(format!("{}/healthz", app.base))
        .await
        .expect("GET");
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    let policy = header(&res, "content-security-policy");
    assert!(!policy.contains("nonce"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
}
