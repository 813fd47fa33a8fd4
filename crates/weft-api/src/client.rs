//! An HTTP client for the native API.

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use weft_model::{GlobalConfig, UpdateGlobalConfig};

use crate::{
    ErrorBody, ErrorDetail, ListQuery, POD_PORTS_PATH, PodPort, PodPortRequest, Resource,
    ServerInfo,
};

/// What a call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("{status}: {detail}")]
    Api {
        status: StatusCode,
        detail: ErrorDetail,
    },
    /// The server could not be reached, or its answer was unreadable.
    #[error("cannot talk to the weft server at {url}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("'{0}' is not a usable server URL")]
    BadUrl(String),
}

/// A client of one weft server.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
}

impl Client {
    /// A client for the server at `base` (`http://127.0.0.1:8082`).
    pub fn new(base: &str) -> Result<Self, ClientError> {
        let base = Url::parse(base).map_err(|_| ClientError::BadUrl(base.to_owned()))?;
        if base.cannot_be_a_base() {
            return Err(ClientError::BadUrl(base.to_string()));
        }
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|source| ClientError::Transport {
                url: base.to_string(),
                source,
            })?;
        Ok(Client { http, base })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str, segment: Option<&str>) -> Url {
        let mut url = self.base.clone();
        url.set_path(path);
        if let Some(segment) = segment
            && let Ok(mut segments) = url.path_segments_mut()
        {
            segments.push(segment);
        }
        url
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let transport = |source| ClientError::Transport {
            url: url.to_string(),
            source,
        };
        let mut request = self.http.request(method, url.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status.is_success() {
            return response.json().await.map_err(transport);
        }
        let bytes = response.bytes().await.map_err(transport)?;
        let detail = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => body.error,
            Err(_) => ErrorDetail {
                kind: "Unknown".into(),
                field: None,
                message: String::from_utf8_lossy(&bytes).into_owned(),
            },
        };
        Err(ClientError::Api { status, detail })
    }

    pub async fn info(&self) -> Result<ServerInfo, ClientError> {
        self.call::<(), _>(Method::GET, self.url("/", None), None)
            .await
    }

    pub async fn create<R: Resource>(&self, req: &R::Create) -> Result<R::Object, ClientError> {
        self.call(Method::POST, self.url(R::PATH, None), Some(req))
            .await
    }

    /// One object, by UUID or FQ name.
    pub async fn get<R: Resource>(&self, target: &str) -> Result<R::Object, ClientError> {
        self.call::<(), _>(Method::GET, self.url(R::PATH, Some(target)), None)
            .await
    }

    pub async fn list<R: Resource>(
        &self,
        query: &ListQuery,
    ) -> Result<Vec<R::Object>, ClientError> {
        let mut url = self.url(R::PATH, None);
        let encoded = serde_json::to_value(query).ok();
        if let Some(serde_json::Value::Object(map)) = encoded {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in map {
                if let serde_json::Value::String(value) = value {
                    pairs.append_pair(&key, &value);
                }
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        self.call::<(), _>(Method::GET, url, None).await
    }

    pub async fn update<R: Resource>(
        &self,
        target: &str,
        req: &R::Update,
    ) -> Result<R::Object, ClientError> {
        self.call(Method::PATCH, self.url(R::PATH, Some(target)), Some(req))
            .await
    }

    /// Deletes an object and returns it as it was.
    pub async fn delete<R: Resource>(&self, target: &str) -> Result<R::Object, ClientError> {
        self.call::<(), _>(Method::DELETE, self.url(R::PATH, Some(target)), None)
            .await
    }

    pub async fn global_config(&self) -> Result<GlobalConfig, ClientError> {
        self.call::<(), _>(Method::GET, self.url("/v1/global-config", None), None)
            .await
    }

    pub async fn update_global_config(
        &self,
        req: &UpdateGlobalConfig,
    ) -> Result<GlobalConfig, ClientError> {
        self.call(
            Method::PATCH,
            self.url("/v1/global-config", None),
            Some(req),
        )
        .await
    }

    /// Gets or creates a pod's port (`POST /v1/pod-ports`).
    pub async fn pod_port(&self, req: &PodPortRequest) -> Result<PodPort, ClientError> {
        self.call(Method::POST, self.url(POD_PORTS_PATH, None), Some(req))
            .await
    }
}
