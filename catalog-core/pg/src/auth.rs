//! Start-up: the token is the password, checked by the query service; a
//! client off loopback must have negotiated TLS before it is asked for it.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use catalog_serve::QueryService;
use futures::Sink;
use pgwire::api::ClientInfo;
use pgwire::api::auth::cleartext::CleartextPasswordAuthStartupHandler;
use pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use crate::pg_catalog::SERVER_VERSION;

/// The token check, as pgwire asks for it.
#[derive(Debug)]
pub struct TokenSource {
    pub service: Arc<QueryService>,
}

// async-trait's lifetimes do not match `LoginInfo<'_>` written out.
#[allow(elided_lifetimes_in_paths)]
#[async_trait]
impl AuthSource for TokenSource {
    async fn get_password(&self, _login: &LoginInfo) -> PgWireResult<Password> {
        // Only `verify_password` is used: tokens are compared, never handed out.
        Err(PgWireError::UserError(Box::new(ErrorInfo::new(
            "FATAL".to_owned(),
            "28000".to_owned(),
            "this server checks tokens; it has no stored passwords".to_owned(),
        ))))
    }

    async fn verify_password(
        &self,
        login: &LoginInfo,
        presented: &[u8],
    ) -> PgWireResult<Option<()>> {
        let token = std::str::from_utf8(presented).ok();
        match self.service.authenticate(token) {
            Ok(()) => Ok(None),
            Err(_) => {
                self.service
                    .metrics()
                    .error(crate::FRONT_END, catalog_serve::ErrorCode::Unauthenticated);
                Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                    "FATAL".to_owned(),
                    "28P01".to_owned(),
                    format!(
                        "password authentication failed for user \"{}\": the password is the \
                         server's token (CODELAKE_SERVE_TOKENS, `serve.tokens_file`, or the token \
                         file `codelake serve` printed); pass it as PGPASSWORD or password=",
                        login.user().unwrap_or_default()
                    ),
                ))))
            }
        }
    }
}

/// Cleartext password authentication over TLS or loopback only.
pub struct Startup {
    inner: CleartextPasswordAuthStartupHandler<TokenSource, DefaultServerParameterProvider>,
}

impl Startup {
    pub fn new(service: Arc<QueryService>) -> Self {
        let mut parameters = DefaultServerParameterProvider::default();
        parameters.server_version = SERVER_VERSION.to_owned();
        parameters.default_transaction_read_only = true;
        parameters.is_superuser = false;
        Self {
            inner: CleartextPasswordAuthStartupHandler::new(TokenSource { service }, parameters),
        }
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if matches!(message, PgWireFrontendMessage::Startup(_))
            && !client.is_secure()
            && !client.socket_addr().ip().to_canonical().is_loopback()
        {
            // Asking for the password now would have the client send the token in clear text.
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".to_owned(),
                "28000".to_owned(),
                "this server takes passwords (tokens) over TLS only, beyond loopback: connect \
                 with sslmode=require (psql: \"host=… sslmode=require\"; psycopg: sslmode='require')"
                    .to_owned(),
            ))));
        }
        self.inner.on_startup(client, message).await
    }
}
