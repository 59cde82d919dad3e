//! The long-text control with @mentions: members are typed as `@Name` with an
//! autocomplete of the workspace's members, stored as `<@id>` (so a renamed member is
//! still the one meant) and shown by name.

use leptos::prelude::*;

use crate::model::notify::{encode_mentions, show_mentions};
use crate::model::Choice;

/// How many members the autocomplete offers at once.
const SHOWN: usize = 8;

/// The byte index in `s` of the UTF-16 offset `pos` (a textarea's caret).
fn byte_index(s: &str, pos: u32) -> usize {
    let mut units = 0u32;
    for (i, c) in s.char_indices() {
        if units >= pos {
            return i;
        }
        units += c.len_utf16() as u32;
    }
    s.len()
}

/// The mention being typed before the caret (byte `caret` of `text`): the byte index of
/// its `@` and what follows it, when the `@` starts a word and at most 30 characters
/// without a line break follow it.
pub(crate) fn typed_mention(text: &str, caret: usize) -> Option<(usize, String)> {
    let before = text.get(..caret)?;
    let at = before.rfind('@')?;
    let query = &before[at + 1..];
    let starts_word = before[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !c.is_alphanumeric());
    (starts_word && !query.contains('\n') && query.chars().count() <= 30)
        .then(|| (at, query.to_string()))
}

/// Members whose name starts with `query`, or has a word that does (case-insensitively).
fn matching(members: &[Choice], query: &str) -> Vec<Choice> {
    let q = query.to_lowercase();
    members
        .iter()
        .filter(|m| {
            let name = m.title.to_lowercase();
            name.starts_with(&q) || name.split_whitespace().any(|w| w.starts_with(&q))
        })
        .take(SHOWN)
        .cloned()
        .collect()
}

/// A textarea editing `text` (the stored form, mentions as `<@id>`) as people read it
/// (`@Name`), offering the matching members while a mention is typed: arrows move, Enter
/// or Tab picks, Escape closes. With `on_enter` (a chat composer), Enter outside the list
/// calls it (Shift+Enter still breaks the line); `on_typed` is told of every keystroke's
/// input (typing indicators).
#[component]
pub(crate) fn MentionArea(
    id: String,
    name: &'static str,
    text: RwSignal<String>,
    locked: Signal<bool>,
    members: Vec<Choice>,
    described_by: String,
    #[prop(optional)] on_enter: Option<Callback<()>>,
    #[prop(optional)] on_typed: Option<Callback<()>>,
    #[prop(default = 4)] rows: u32,
) -> impl IntoView {
    let pairs: Vec<(i64, String)> = members.iter().map(|c| (c.id, c.title.clone())).collect();
    let show = {
        let pairs = pairs.clone();
        move |t: &str| {
            show_mentions(t, |id| {
                pairs.iter().find(|(i, _)| *i == id).map(|(_, n)| n.clone())
            })
        }
    };
    let display = RwSignal::new(text.with_untracked(|t| show(t)));
    let encode = StoredValue::new(pairs);
    let query = RwSignal::new(None::<(usize, String)>);
    let active = RwSignal::new(0usize);
    // A change from elsewhere (a colleague's edit, undo) is shown by name, and closes
    // the list of a mention being typed (its offsets no longer hold).
    Effect::new(move |_| {
        let stored = text.get();
        let same =
            display.with_untracked(|d| encode.with_value(|p| encode_mentions(d, p)) == stored);
        if !same {
            query.set(None);
            display.set(show(&stored));
        }
    });
    let area = NodeRef::<leptos::html::Textarea>::new();
    let options = {
        let members = members.clone();
        Memo::new(move |_| {
            query
                .get()
                .map(|(_, q)| matching(&members, &q))
                .unwrap_or_default()
        })
    };
    let listbox = format!("{id}-mentions");
    let option_id = {
        let listbox = listbox.clone();
        move |i: usize| format!("{listbox}-{i}")
    };
    // The stored text of `value`: members already mentioned in it come first, so a
    // mention of one of two members who share a name stays theirs.
    let stored_form = move |value: &str| {
        let known = crate::model::notify::mentions(&text.get_untracked());
        encode.with_value(|p| {
            let mut ordered = p.clone();
            ordered.sort_by_key(|(id, _)| !known.contains(id));
            encode_mentions(value, &ordered)
        })
    };
    let typed = move |value: String| {
        let caret = area
            .get_untracked()
            .and_then(|a| a.selection_start().ok().flatten())
            .map(|c| byte_index(&value, c))
            .unwrap_or(value.len());
        query.set(typed_mention(&value, caret));
        active.set(0);
        text.set(stored_form(&value));
        display.set(value);
    };
    let pick = move |choice: Choice| {
        let Some((at, q)) = query.get_untracked() else {
            return;
        };
        let value = display.get_untracked();
        let end = at + 1 + q.len();
        // The text may have changed under the list (a colleague's edit): never slice it
        // where it no longer holds what was typed.
        if value.get(at..end) != Some(format!("@{q}").as_str()) {
            query.set(None);
            return;
        }
        let inserted = format!("@{} ", choice.title);
        let next = format!("{}{inserted}{}", &value[..at], &value[end..]);
        let caret: u32 =
            value[..at].encode_utf16().count() as u32 + inserted.encode_utf16().count() as u32;
        query.set(None);
        text.set(stored_form(&next));
        display.set(next.clone());
        if let Some(a) = area.get_untracked() {
            a.set_value(&next);
            let _ = a.set_selection_range(caret, caret);
            let _ = a.focus();
        }
    };
    let open = move || !options.with(Vec::is_empty);
    let active_id = {
        let option_id = option_id.clone();
        move || open().then(|| option_id(active.get()))
    };
    view! {
        <div class="mention-area">
            <textarea id=id name=name rows=rows readonly=locked node_ref=area aria-describedby=described_by
                aria-autocomplete="list" aria-controls=listbox.clone() aria-expanded=move || open().to_string()
                aria-activedescendant=active_id
                bind:value=display
                on:input=move |ev| {
                    typed(event_target_value(&ev));
                    if let Some(f) = on_typed {
                        f.run(());
                    }
                }
                on:keydown=move |ev| {
                    if !open() {
                        if let (Some(f), "Enter", false) = (on_enter, ev.key().as_str(), ev.shift_key()) {
                            ev.prevent_default();
                            f.run(());
                        }
                        return;
                    }
                    let n = options.with_untracked(Vec::len);
                    match ev.key().as_str() {
                        "ArrowDown" => { ev.prevent_default(); active.update(|a| *a = (*a + 1) % n); }
                        "ArrowUp" => { ev.prevent_default(); active.update(|a| *a = (*a + n - 1) % n); }
                        "Enter" | "Tab" => {
                            ev.prevent_default();
                            if let Some(c) = options.with_untracked(|o| o.get(active.get_untracked()).cloned()) {
                                pick(c);
                            }
                        }
                        "Escape" => { ev.prevent_default(); ev.stop_propagation(); query.set(None); }
                        _ => {}
                    }
                }
                on:blur=move |_| query.set(None)></textarea>
            <ul id=listbox role="listbox" aria-label="Members to mention" class="mention-options" hidden=move || !open()>
                {move || options.get().into_iter().enumerate().map(|(i, c)| {
                    let label = c.title.clone();
                    view! {
                        <li id=option_id(i) role="option" aria-selected=move || (active.get() == i).to_string()
                            on:mousedown=move |ev| { ev.prevent_default(); pick(c.clone()); }>{label}</li>
                    }
                }).collect_view()}
            </ul>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mention_is_typed_only_after_an_at_that_starts_a_word() {
        assert_eq!(typed_mention("hi @An", 6), Some((3, "An".into())));
        assert_eq!(typed_mention("mail a@b", 8), None);
        assert_eq!(typed_mention("@Ann\nnext", 9), None);
        assert_eq!(typed_mention("no at", 5), None);
    }

    #[test]
    fn carets_in_utf16_become_byte_indexes() {
        assert_eq!(byte_index("é@a", 1), 2);
        assert_eq!(byte_index("ab", 9), 2);
    }
}
