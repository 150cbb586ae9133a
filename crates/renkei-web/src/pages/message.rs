//! A simple page that tells the user what happened and where to go next.

use crate::chrome::Chrome;
use crate::error::{Ctx, PageError};
use crate::pages::home::render;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    chrome: Chrome,
    title: String,
    paragraphs: Vec<String>,
    link: String,
    link_label: String,
}

/// Renders a message page; texts are catalogue keys except `extra` paragraphs given as text.
pub fn message(
    ctx: &Ctx,
    status: StatusCode,
    title_key: &str,
    body_keys: &[&str],
    extra: &[String],
    link: &str,
    link_key: &str,
) -> Result<Response, PageError> {
    let chrome = Chrome::new(ctx, "", false);
    let mut paragraphs: Vec<String> = body_keys.iter().map(|k| chrome.t.get(k)).collect();
    paragraphs.extend(extra.iter().cloned());
    let page = MessagePage {
        title: chrome.t.get(title_key),
        paragraphs,
        link: link.to_owned(),
        link_label: chrome.t.get(link_key),
        chrome,
    };
    Ok((status, render(ctx, &page)?).into_response())
}
