//! What every asset operation is, as the authorizer knows it: one table from the
//! `/cairn/v1/assets` routes to the `cairn:` action each is, and the decision. Who may
//! act on which tenant's assets is tenancy (`ext/v1/scope.rs`); on top of it, a bucket
//! policy can deny an action on the assets whose objects live in the bucket, as it
//! denies S3 requests: an explicit `Deny` of the action for the caller on an object
//! (`arn:aws:s3:::BUCKET/KEY`) an asset points at refuses the operation. (A policy
//! `Allow` of a `cairn:` action grants nothing beyond tenancy.)

use super::{Authorizer, Identity, conditions, denied};
use crate::errors;
use crate::policy::Decision;
use s3s::S3Result;

/// A `cairn:` action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetAction {
    Get,
    Put,
    Delete,
    Share,
    Transfer,
    Annotate,
}

impl AssetAction {
    pub fn name(self) -> &'static str {
        match self {
            AssetAction::Get => "cairn:GetAsset",
            AssetAction::Put => "cairn:PutAsset",
            AssetAction::Delete => "cairn:DeleteAsset",
            AssetAction::Share => "cairn:ShareAsset",
            AssetAction::Transfer => "cairn:TransferAsset",
            AssetAction::Annotate => "cairn:Annotate",
        }
    }
}

/// The action of `method` on the route after `assets/` (`rest`), if it acts on one
/// asset (`rest[0]` is then its id). Lists, searches, stats and feeds are decided by
/// tenancy alone.
///
/// | route | action |
/// |---|---|
/// | `GET ID`, `GET ID/versions[/N]`, `GET ID/diff`, `GET ID/shares` | `cairn:GetAsset` |
/// | `POST assets` (a registration), `PATCH ID`, `POST ID/versions`, `POST ID/rollback` | `cairn:PutAsset` |
/// | `DELETE ID`, `POST ID/restore`, `POST ID/purge` | `cairn:DeleteAsset` |
/// | `POST ID/shares`, `DELETE ID/shares/T` | `cairn:ShareAsset` |
/// | `POST ID/transfer` | `cairn:TransferAsset` |
/// | `GET ID/annotations`, `GET ID/versions/N/...` (timing, annotations, live) | `cairn:GetAsset` |
/// | `POST`, `PATCH`, `DELETE ID/versions/N/annotations...` | `cairn:Annotate` |
/// | `PUT ID/versions/N/timing` | `cairn:PutAsset` |
pub fn action_on_asset(method: &http::Method, rest: &[&str]) -> Option<AssetAction> {
    use http::Method;
    Some(match (method, rest) {
        (&Method::GET, [_]) | (&Method::GET, [_, "versions" | "diff" | "shares" | "annotations", ..]) => {
            AssetAction::Get
        }
        (&Method::POST | &Method::PATCH | &Method::DELETE, [_, "versions", _, "annotations", ..]) => {
            AssetAction::Annotate
        }
        (&Method::PUT, [_, "versions", _, "timing"]) => AssetAction::Put,
        (&Method::PATCH, [_]) | (&Method::POST, [_, "versions" | "rollback"]) => AssetAction::Put,
        (&Method::DELETE, [_]) | (&Method::POST, [_, "restore" | "purge"]) => AssetAction::Delete,
        (&Method::POST, [_, "shares"]) | (&Method::DELETE, [_, "shares", _]) => AssetAction::Share,
        (&Method::POST, [_, "transfer"]) => AssetAction::Transfer,
        _ => return None,
    })
}

impl Authorizer {
    /// Refuses `action` when a policy of a bucket holding one of `objects` (bucket,
    /// key) explicitly denies it to `who` on that object.
    pub fn asset_action(&self, who: &Identity, action: AssetAction, objects: &[(String, String)]) -> S3Result<()> {
        let uri = http::Uri::from_static("/");
        let conds = conditions(action.name(), Some(who), &uri, &http::HeaderMap::new(), None);
        for (bucket, key) in objects {
            let Some(info) = self.meta.get_bucket(bucket).map_err(errors::meta)? else { continue };
            let resource = format!("arn:aws:s3:::{bucket}/{key}");
            if self.policy_decision(&info, action.name(), &resource, Some(who), &conds).0 == Decision::Deny {
                return Err(denied());
            }
        }
        Ok(())
    }
}
