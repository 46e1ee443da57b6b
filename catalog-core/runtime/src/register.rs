//! Registering catalog tables in a DataFusion session through their plugins.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use catalog_core::inspect::{InspectRequest, Inspection};
use catalog_core::{Environment, TableSpec};
use codelake_plugin_abi::ErrorKind;
use datafusion::catalog::{MemorySchemaProvider, TableProvider};
use datafusion::common::TableReference;
use datafusion::execution::TaskContextProvider;
use datafusion::prelude::SessionContext;
use datafusion_ffi::proto::logical_extension_codec::FFI_LogicalExtensionCodec;
use datafusion_ffi::table_provider::FFI_TableProvider;
use stabby::str::Str;

use crate::host::{Plugin, PluginSet};
use crate::{Error, Result};

/// Registers each table as `database.name` in `ctx`'s default catalog, through
/// the plugin serving its source, then each view as a DataFusion view over
/// them (see [`crate::views`]). Tables are independent: the ones that fail
/// are returned, the others are registered and answer queries; a view that
/// reads a failed table fails too, naming it. A view with a `materialize`
/// location is served from its written copy ([`TableSpec::materialized_copy`]);
/// pass [`TableSpec::live`] specs to run its SQL instead.
pub fn register_tables<'a>(
    ctx: &Arc<SessionContext>,
    plugins: &PluginSet,
    tables: impl IntoIterator<Item = &'a TableSpec>,
    env: &Environment,
) -> Vec<Error> {
    // A data directory that is not UTF-8 cannot be sent to a plugin: every table fails alike.
    let environment_json = match serde_json::to_string(env) {
        Ok(json) => json,
        Err(error) => {
            let message = format!(
                "environment `{}` cannot be sent to plugins: {error}; use a UTF-8 data directory",
                env.name
            );
            return tables
                .into_iter()
                .map(|spec| Error::Environment {
                    table: spec.qualified_name(),
                    message: message.clone(),
                })
                .collect();
        }
    };
    // A view with a written copy is served from it, through the plugin of its
    // format, like any table; the views run live come last.
    let specs_in: Vec<&'a TableSpec> = tables.into_iter().collect();
    let specs: Vec<Cow<'a, TableSpec>> = specs_in
        .iter()
        .map(|spec| {
            spec.materialized_copy()
                .map_or(Cow::Borrowed(*spec), Cow::Owned)
        })
        .collect();
    let (views, tables): (Vec<&TableSpec>, Vec<&TableSpec>) = specs
        .iter()
        .map(|spec| &**spec)
        .partition(|spec| spec.is_view());
    let task_ctx_provider = Arc::clone(ctx) as Arc<dyn TaskContextProvider>;
    let environment = Arc::new(env.clone());
    let mut failures = Vec::new();
    for spec in tables {
        let registered = provider(
            plugins,
            spec,
            &environment,
            &environment_json,
            &task_ctx_provider,
        )
        .and_then(|provider| register(ctx, spec, provider));
        if let Err(error) = registered {
            failures.push(not_materialized(&specs_in, spec, error));
        }
    }
    if !views.is_empty() {
        let unavailable: BTreeSet<String> = failures
            .iter()
            .filter_map(|error| error.table().map(str::to_owned))
            .collect();
        // Planning a view reads only registered schemas: nothing here waits on I/O.
        let problems =
            futures::executor::block_on(crate::views::register_views(ctx, &views, &unavailable));
        failures.extend(problems.into_iter().map(|problem| Error::View {
            table: problem.view.clone(),
            problem,
        }));
    }
    failures
}

/// A materialized view whose copy cannot be opened says how to write it, or
/// to run its SQL instead; any other table's error is kept as it is.
fn not_materialized(declared: &[&TableSpec], spec: &TableSpec, error: Error) -> Error {
    let name = spec.qualified_name();
    let Some(view) = declared
        .iter()
        .find(|declared| declared.qualified_name() == name)
        .and_then(|declared| declared.view.as_ref())
    else {
        return error;
    };
    let location = view.materialize.as_deref().unwrap_or_default();
    Error::View {
        table: name.clone(),
        problem: crate::views::ViewProblem {
            view: name.clone(),
            file: view.file.to_string(),
            column: None,
            message: format!(
                "its written copy at {location} cannot be opened ({error}); write it with `codelake materialize {name}`, or run the view's SQL with `--live`"
            ),
        },
    }
}

/// Reads `spec`'s source directly through its plugin (see
/// [`catalog_core::inspect`]): the live schema, the newest object, and problems
/// only the plugin sees. Blocks; run it on a blocking thread.
pub fn inspect(
    plugins: &PluginSet,
    spec: &TableSpec,
    env: &Environment,
    request: &InspectRequest,
) -> Result<Inspection> {
    let table = spec.qualified_name();
    let plugin = plugin_for(plugins, spec)?;
    let environment_json = serde_json::to_string(env).map_err(|error| Error::Environment {
        table: table.clone(),
        message: format!(
            "environment `{}` cannot be sent to plugins: {error}; use a UTF-8 data directory",
            env.name
        ),
    })?;
    let spec_json = serde_json::to_string(spec).expect("a spec serialises");
    let request_json = serde_json::to_string(request).expect("a request serialises");
    let inspect_error = |message: String| Error::Inspect {
        table: table.clone(),
        plugin: plugin.path.clone(),
        message,
    };
    let plugin_error = |error: codelake_plugin_abi::PluginError| {
        let message = error.message.as_str().to_owned();
        if error.kind == ErrorKind::UNREACHABLE {
            Error::Unreachable {
                table: table.clone(),
                plugin: plugin.path.clone(),
                message,
            }
        } else {
            inspect_error(message)
        }
    };
    // A plugin without the capability cannot read its source directly:
    // `verify` checks its tables through queries only.
    let Some(inspect) = plugin.inspect else {
        return Ok(Inspection {
            unsupported: true,
            ..Inspection::default()
        });
    };
    let json = inspect(
        Str::from(spec_json.as_str()),
        Str::from(environment_json.as_str()),
        Str::from(request_json.as_str()),
    )
    .into_result()
    .map_err(plugin_error)?;
    serde_json::from_str(json.as_str())
        .map_err(|error| inspect_error(format!("the plugin's answer cannot be read: {error}")))
}

fn plugin_for<'p>(plugins: &'p PluginSet, spec: &TableSpec) -> Result<&'p Plugin> {
    plugins
        .plugin_for(&spec.source)
        .ok_or_else(|| Error::NoPlugin {
            table: spec.qualified_name(),
            kind: spec.source.to_string(),
            loaded: plugins.names(),
        })
}

fn provider(
    plugins: &PluginSet,
    spec: &TableSpec,
    environment: &Arc<Environment>,
    environment_json: &str,
    task_ctx_provider: &Arc<dyn TaskContextProvider>,
) -> Result<Arc<dyn TableProvider>> {
    let table = spec.qualified_name();
    let plugin = plugin_for(plugins, spec)?;
    let spec_json = serde_json::to_string(spec).expect("a spec serialises");
    let codec = FFI_LogicalExtensionCodec::new_default(task_ctx_provider);
    // One call: the plugin parses the options (refusing bad ones before any I/O) and builds.
    let built = (plugin.build)(
        Str::from(spec_json.as_str()),
        Str::from(environment_json),
        codec,
    );
    let ffi: FFI_TableProvider = built.into_result().map_err(|error| {
        let message = error.message.as_str().to_owned();
        let plugin = plugin.path.clone();
        if error.kind == ErrorKind::OPTIONS {
            Error::InvalidOptions {
                table,
                plugin,
                message,
            }
        } else {
            Error::Create {
                table,
                plugin,
                message,
            }
        }
    })?;
    let streamed: Arc<dyn TableProvider> = (&ffi).into();
    let streamed: Arc<dyn TableProvider> = Arc::new(crate::scan::PlainSettingsTable::new(streamed));
    // A plugin that plans its scans for the host: the host executes them
    // (unless `CODELAKE_HOST_SCANS=off` asks for the streamed path).
    Ok(
        match plugin.plan_scan.filter(|_| crate::scan::host_scans_on()) {
            Some(plan_scan) => Arc::new(crate::scan::HostScan::new(
                streamed,
                plan_scan,
                &spec_json,
                environment_json,
                Arc::clone(environment),
                spec.qualified_name(),
                plugin.name.clone(),
            )),
            None => streamed,
        },
    )
}

fn register(
    ctx: &SessionContext,
    spec: &TableSpec,
    provider: Arc<dyn TableProvider>,
) -> Result<()> {
    register_provider(ctx, spec, provider).map_err(|source| Error::Register {
        table: spec.qualified_name(),
        source,
    })
}

/// Registers `provider` as `database.name` in `ctx`'s default catalog,
/// creating the database's schema when needed: for plugin tables and views alike.
pub(crate) fn register_provider(
    ctx: &SessionContext,
    spec: &TableSpec,
    provider: Arc<dyn TableProvider>,
) -> datafusion::error::Result<()> {
    let catalog_name = ctx
        .state()
        .config()
        .options()
        .catalog
        .default_catalog
        .clone();
    let catalog = ctx
        .catalog(&catalog_name)
        .expect("the default catalog exists");
    if catalog.schema(&spec.database).is_none() {
        catalog.register_schema(&spec.database, Arc::new(MemorySchemaProvider::new()))?;
    }
    ctx.register_table(
        TableReference::partial(spec.database.to_string(), spec.name.to_string()),
        provider,
    )?;
    Ok(())
}
