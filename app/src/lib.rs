//! Tandem's Leptos application: the HTML shell, the router with every page, and the
//! modules shared by the server and the browser.

// Leptos views are nested types; the release build of the browser side computes the
// layout of their hydration futures deeper than rustc's default limit of 128 (the import
// page with its previews needs 130).
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod error;
pub mod model;
pub mod pages;
pub mod realtime;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{lazy_route, path, Lazy, LazyRoute};

#[cfg(feature = "hydrate")]
pub use crate::pages::records::preload_for_hydration;

use crate::pages::{
    auth::{LoginPage, SignupPage},
    calendar::CalendarPage,
    chat::ChatPage,
    dashboard::DashboardPage,
    home::HomePage,
    import::ImportPage,
    invite::InvitePage,
    members::{MemberPage, MembersPage},
    my_tasks::MyTasksPage,
    preferences::PreferencesPage,
    queue::CallsQueuePage,
    records::{KindPage, RecordPage},
    settings::SettingsPage,
    workspace::{WorkspaceGate, WorkspaceLayout},
    workspaces::WorkspacesPage,
};

/// The Content-Security-Policy of a page whose inline scripts (Leptos' hydration and
/// streaming scripts) carry `nonce`: scripts only from this origin or by that nonce,
/// WebAssembly compiled from this origin's modules (`'wasm-unsafe-eval'`), connections
/// (fetch, WebSocket, event stream) only to this origin, no plugins, and no framing
/// (`frame-ancestors 'none'`). Styles may be inline (the avatars' colours are style
/// attributes). Without a nonce (`None`: a response that is not a page) no inline script
/// runs at all.
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let nonce = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The HTML document around the app, rendered on the server. Sets the page's
/// Content-Security-Policy with this response's nonce.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        let policy = content_security_policy(Some(nonce.as_inner()));
        if let Ok(value) = axum::http::HeaderValue::from_str(&policy) {
            response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
                // Registers the service worker (public/sw.js) that serves open pages again
                // offline.
                <script src="/sw-register.js" defer></script>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Declares a route whose page is loaded on demand: in a split build (`cargo leptos build
/// --split`) its code is a WASM chunk of its own, fetched when the route is first shown
/// (or, for the page a visit starts on, before hydration). The first page (log-in and a
/// workspace's records) stays in the main bundle.
/// Shape from leptos-rs/leptos `examples/lazy_routes`.
macro_rules! lazy_page {
    ($(#[$doc:meta])* $route:ident => $page:expr) => {
        $(#[$doc])*
        struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                $page.into_any()
            }
        }
    };
}

lazy_page!(
    /// `/workspaces`.
    WorkspacesRoute => view! { <WorkspacesPage/> }
);
lazy_page!(
    /// `/invite/{token}`.
    InviteRoute => view! { <InvitePage/> }
);
lazy_page!(
    /// `/w/{slug}/members`.
    MembersRoute => view! { <WorkspaceGate><MembersPage/></WorkspaceGate> }
);
lazy_page!(
    /// `/w/{slug}/members/{user}`: one member and what they did.
    MemberRoute => view! { <WorkspaceGate><MemberPage/></WorkspaceGate> }
);
lazy_page!(
    /// `/w/{slug}/dashboard`: the workspace's activity and announcements.
    DashboardRoute => view! { <WorkspaceGate><DashboardPage/></WorkspaceGate> }
);
lazy_page!(
    /// `/w/{slug}/queue`: the calls queue.
    QueueRoute => view! { <WorkspaceGate><CallsQueuePage/></WorkspaceGate> }
);
lazy_page!(
    /// `/w/{slug}/my-tasks`: a member's tasks, with quick add.
    MyTasksRoute => view! { <WorkspaceGate><MyTasksPage/></WorkspaceGate> }
);
lazy_page!(
    /// `/w/{slug}/calendar`: the week's free slots, booking and availability.
    CalendarRoute => view! { <WorkspaceGate><CalendarPage/></WorkspaceGate> }
);
lazy_page!(
    /// `/w/{slug}/chat` and `/w/{slug}/chat/{room}`: rooms, invitations and a room's
    /// conversation.
    ChatRoute => view! { <WorkspaceGate><ChatPage/></WorkspaceGate> }
);
lazy_page!(
    /// `/w/{slug}/preferences`: the user's notification preferences.
    PreferencesRoute => view! { <WorkspaceGate><PreferencesPage/></WorkspaceGate> }
);
lazy_page!(
    /// `/w/{slug}/import`.
    ImportRoute => view! { <WorkspaceGate><ImportPage/></WorkspaceGate> }
);
lazy_page!(
    /// `/w/{slug}/settings`.
    SettingsRoute => view! { <WorkspaceGate><SettingsPage/></WorkspaceGate> }
);
lazy_page!(
    /// `/w/{slug}/{kind}/{id}`: one record, with its form.
    RecordRoute => view! { <WorkspaceGate><RecordPage/></WorkspaceGate> }
);

/// The app: routes to every page.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/tandem.css"/>
        <Title text="Tandem"/>
        <Router>
            <Routes fallback=|| view! { <main class="page"><h1>"Page not found"</h1><a href="/">"Go to the start page"</a></main> }>
                <Route path=path!("/") view=HomePage/>
                <Route path=path!("/login") view=LoginPage/>
                <Route path=path!("/signup") view=SignupPage/>
                <Route path=path!("/workspaces") view={Lazy::<WorkspacesRoute>::new()}/>
                <Route path=path!("/invite/:token") view={Lazy::<InviteRoute>::new()}/>
                <ParentRoute path=path!("/w/:slug") view=WorkspaceLayout>
                    <Route path=path!("dashboard") view={Lazy::<DashboardRoute>::new()}/>
                    <Route path=path!("preferences") view={Lazy::<PreferencesRoute>::new()}/>
                    <Route path=path!("queue") view={Lazy::<QueueRoute>::new()}/>
                    <Route path=path!("my-tasks") view={Lazy::<MyTasksRoute>::new()}/>
                    <Route path=path!("calendar") view={Lazy::<CalendarRoute>::new()}/>
                    <Route path=path!("chat") view={Lazy::<ChatRoute>::new()}/>
                    <Route path=path!("chat/:room") view={Lazy::<ChatRoute>::new()}/>
                    <Route path=path!("members") view={Lazy::<MembersRoute>::new()}/>
                    <Route path=path!("members/:user") view={Lazy::<MemberRoute>::new()}/>
                    <Route path=path!("import") view={Lazy::<ImportRoute>::new()}/>
                    <Route path=path!("settings") view={Lazy::<SettingsRoute>::new()}/>
                    // Every record kind's pages, from its KindSpec: `customers`, `deals/12`...
                    <Route path=path!("") view={Lazy::<DashboardRoute>::new()}/>
                    <Route path=path!(":kind") view=|| view! { <WorkspaceGate><KindPage/></WorkspaceGate> }/>
                    <Route path=path!(":kind/:id") view={Lazy::<RecordRoute>::new()}/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
