//! Routes that remember themselves. axum cannot list a `Router`'s routes, so the route files build
//! a [`Routes`] (an axum router plus the list of `(method, path)` it serves) with the
//! method-router constructors here ([`get`], [`post`], …), which record each method as it is
//! added. The integration tests read the list ([`crate::route_table`]) to walk every route.

use crate::AppState;
use axum::Router;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::Method;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, Route};
use std::convert::Infallible;
use tower::{Layer, Service};

/// One route the server answers: a method and a path pattern as axum reads it
/// (`/practice/users/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteEntry {
    pub method: Method,
    pub path: String,
}

/// An axum router that keeps the list of the routes it was given.
pub struct Routes {
    router: Router<AppState>,
    table: Vec<RouteEntry>,
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

impl Routes {
    /// No routes yet.
    pub fn new() -> Self {
        Self { router: Router::new(), table: Vec::new() }
    }

    /// The routes of an OpenAPI router (see `utoipa_axum`): `router` serves exactly the
    /// operations of `doc`, which the list is read from.
    pub fn from_openapi(router: Router<AppState>, doc: &utoipa::openapi::OpenApi) -> Self {
        let mut table = Vec::new();
        for (path, item) in &doc.paths.paths {
            let operations = [
                (Method::GET, &item.get),
                (Method::PUT, &item.put),
                (Method::POST, &item.post),
                (Method::DELETE, &item.delete),
                (Method::PATCH, &item.patch),
            ];
            table.extend(
                operations
                    .into_iter()
                    .filter(|(_, op)| op.is_some())
                    .map(|(method, _)| RouteEntry { method, path: path.clone() }),
            );
        }
        Self { router, table }
    }

    /// Adds `path` with the methods of `methods` (see [`Router::route`]).
    pub fn route(mut self, path: &str, methods: Methods) -> Self {
        self.table.extend(methods.methods.into_iter().map(|method| RouteEntry { method, path: path.to_owned() }));
        self.router = self.router.route(path, methods.router);
        self
    }

    /// Serves `other`'s routes too (see [`Router::merge`]).
    pub fn merge(mut self, other: Routes) -> Self {
        self.table.extend(other.table);
        self.router = self.router.merge(other.router);
        self
    }

    /// Serves `other`'s routes under `prefix` (see [`Router::nest`]).
    pub fn nest(mut self, prefix: &str, other: Routes) -> Self {
        self.table.extend(
            other.table.into_iter().map(|e| RouteEntry { method: e.method, path: format!("{prefix}{}", e.path) }),
        );
        self.router = self.router.nest(prefix, other.router);
        self
    }

    /// Answers a path that matches no route with `not_found`, and a method a route does not
    /// serve with `wrong_method` (see [`Router::fallback`] and
    /// [`Router::method_not_allowed_fallback`]). Call it after the last route is added: the
    /// second applies to the routes there are. Neither is a route: the list does not change.
    pub fn fallbacks<H1, T1, H2, T2>(mut self, not_found: H1, wrong_method: H2) -> Self
    where
        H1: Handler<T1, AppState>,
        T1: 'static,
        H2: Handler<T2, AppState>,
        T2: 'static,
    {
        self.router = self.router.fallback(not_found).method_not_allowed_fallback(wrong_method);
        self
    }

    /// Wraps every route added so far in `layer` (see [`Router::layer`]).
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        self.router = self.router.layer(layer);
        self
    }

    /// The axum router and the list of its routes.
    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteEntry>) {
        (self.router, self.table)
    }
}

/// A method router that records which methods it serves.
pub struct Methods {
    router: MethodRouter<AppState>,
    methods: Vec<Method>,
}

macro_rules! methods {
    ($($name:ident => $method:ident),* $(,)?) => {
        $(
            #[doc = concat!("Serves `", stringify!($method), "` with `handler`.")]
            pub fn $name<H, T>(handler: H) -> Methods
            where
                H: Handler<T, AppState>,
                T: 'static,
            {
                Methods { router: axum::routing::$name(handler), methods: vec![Method::$method] }
            }
        )*

        impl Methods {
            $(
                #[doc = concat!("Also serves `", stringify!($method), "` with `handler`.")]
                pub fn $name<H, T>(mut self, handler: H) -> Self
                where
                    H: Handler<T, AppState>,
                    T: 'static,
                {
                    self.router = self.router.$name(handler);
                    self.methods.push(Method::$method);
                    self
                }
            )*
        }
    };
}

methods!(get => GET, post => POST, put => PUT, patch => PATCH, delete => DELETE);

impl Methods {
    /// Wraps these methods' handlers in `layer` (see [`MethodRouter::layer`]).
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        self.router = self.router.layer(layer);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: Method, path: &str) -> RouteEntry {
        RouteEntry { method, path: path.to_owned() }
    }

    #[test]
    fn chained_methods_merge_and_nest_are_all_listed() {
        let api = Routes::new().route("/things/{id}", get(|| async {}).patch(|| async {}).delete(|| async {}));
        let pages = Routes::new().route("/", get(|| async {})).route("/form", get(|| async {}).post(|| async {}));
        let (_, table) = Routes::new().merge(pages).nest("/api/v1", api).into_parts();
        assert_eq!(
            table,
            vec![
                entry(Method::GET, "/"),
                entry(Method::GET, "/form"),
                entry(Method::POST, "/form"),
                entry(Method::GET, "/api/v1/things/{id}"),
                entry(Method::PATCH, "/api/v1/things/{id}"),
                entry(Method::DELETE, "/api/v1/things/{id}"),
            ]
        );
    }

    #[test]
    fn put_and_layers_keep_the_list() {
        let layered = put(|| async {}).layer(axum::extract::DefaultBodyLimit::max(10));
        let (_, table) =
            Routes::new().route("/office", layered).layer(tower::layer::util::Identity::new()).into_parts();
        assert_eq!(table, vec![entry(Method::PUT, "/office")]);
    }
}
