//! The `tandem` binary: parse flags, set up logging, then serve or import.

use anyhow::Context;
use clap::Parser;
use server::config::{Cli, Command, LogFormat};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::tune_allocator();
    let command = Cli::parse().into_command();
    let format = match &command {
        Command::Serve(a) => a.log_format,
        Command::Import(_) | Command::Seed(_) | Command::Backup(_) => LogFormat::Text,
    };
    init_tracing(format);
    match command {
        Command::Serve(args) => {
            let mut options = server::assets::leptos_options()
                .context("reading the Leptos site configuration")?;
            options.site_addr = args.listen;
            let settings = args.settings().map_err(anyhow::Error::msg)?;
            let db = server::db::connect(&args.db.database_url).await?;
            let state = server::AppState::new(options, db, settings)?;
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("listening on {}", args.listen))?;
            tracing::info!("Tandem listening on http://{}", args.listen);
            server::serve(listener, state, shutdown_signal()).await?;
        }
        Command::Import(args) => {
            server::cli::import(args).await?;
        }
        Command::Seed(args) => {
            server::cli::seed::seed(args).await?;
        }
        Command::Backup(args) => {
            let bytes = server::cli::backup::backup(&args).await?;
            println!("backed up to {} ({bytes} bytes)", args.to.display());
        }
    }
    Ok(())
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
