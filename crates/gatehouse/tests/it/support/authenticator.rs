//! A passkey for the tests: webauthn-authenticator-rs's software passkey makes the P-256 keys and
//! signs (no crypto here), behind the two parts a browser and a discoverable authenticator play:
//! the client data JSON carrying the page's origin, and remembering which key belongs to which
//! relying party and user handle (the soft passkey keeps only keys, so the key chosen for a
//! discoverable sign-in is named to it, and the user handle, which no signature covers, is added
//! to its answer as a resident key's would be).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use webauthn_authenticator_rs::AuthenticatorBackendHashedClientData;
use webauthn_authenticator_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// One key the authenticator holds.
#[derive(Debug, Clone)]
pub struct HeldKey {
    pub rp_id: String,
    pub credential_id: String,
    pub user_handle: String,
}

/// A user-verifying authenticator holding discoverable keys.
pub struct TestPasskey {
    soft: SoftPasskey,
    pub keys: Vec<HeldKey>,
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> (String, Vec<u8>) {
    let json = json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false}).to_string();
    let hash = Sha256::digest(json.as_bytes()).to_vec();
    (json, hash)
}

impl TestPasskey {
    pub fn new() -> Self {
        // `true`: it says it verified its user (a PIN or fingerprint, as the server requires).
        Self { soft: SoftPasskey::new(true), keys: Vec::new() }
    }

    /// Answers registration options (the server's `options`) as a browser at `origin` would.
    pub fn register(&mut self, options: &Value, origin: &str) -> Value {
        let mut options = options.clone();
        // The soft passkey refuses to be asked for a resident key; this wrapper is its storage.
        if let Some(sel) = options.pointer_mut("/publicKey/authenticatorSelection").and_then(Value::as_object_mut) {
            assert_eq!(sel.get("residentKey"), Some(&json!("required")), "a discoverable key is asked for");
            sel.remove("residentKey");
            sel.insert("requireResidentKey".into(), json!(false));
        }
        let ccr: CreationChallengeResponse = serde_json::from_value(options).expect("creation options");
        let pk = ccr.public_key;
        let challenge = URL_SAFE_NO_PAD.encode(pk.challenge.as_ref());
        let (json, hash) = client_data("webauthn.create", &challenge, origin);
        let rp_id = pk.rp.id.clone();
        let user_handle = URL_SAFE_NO_PAD.encode(pk.user.id.as_ref());
        let mut cred = self.soft.perform_register(hash, pk, 60_000).expect("the soft passkey registers");
        cred.response.client_data_json = json.into_bytes().into();
        self.keys.push(HeldKey { rp_id, credential_id: URL_SAFE_NO_PAD.encode(cred.raw_id.as_ref()), user_handle });
        serde_json::to_value(&cred).expect("answer")
    }

    /// Answers sign-in options at `origin` with `key`: a discoverable sign-in (no allowed keys)
    /// names the key's user.
    pub fn sign_in_with(&mut self, key: &HeldKey, options: &Value, origin: &str) -> Value {
        let mut options = options.clone();
        let discoverable = options["publicKey"]["allowCredentials"].as_array().is_none_or(Vec::is_empty);
        options["publicKey"]["allowCredentials"] = json!([{"type": "public-key", "id": key.credential_id}]);
        let rcr: RequestChallengeResponse = serde_json::from_value(options).expect("request options");
        let pk = rcr.public_key;
        let challenge = URL_SAFE_NO_PAD.encode(pk.challenge.as_ref());
        let (json, hash) = client_data("webauthn.get", &challenge, origin);
        let mut cred = self.soft.perform_auth(hash, pk, 60_000).expect("the soft passkey signs");
        cred.response.client_data_json = json.into_bytes().into();
        if discoverable {
            cred.response.user_handle = Some(URL_SAFE_NO_PAD.decode(&key.user_handle).expect("handle").into());
        }
        serde_json::to_value(&cred).expect("answer")
    }

    /// Answers sign-in options at `origin` with the key held for the options' relying party.
    pub fn sign_in(&mut self, options: &Value, origin: &str) -> Value {
        let rp_id = options["publicKey"]["rpId"].as_str().expect("rpId").to_owned();
        let key = self.keys.iter().rev().find(|k| k.rp_id == rp_id).cloned().expect("a key for this relying party");
        self.sign_in_with(&key, options, origin)
    }
}
