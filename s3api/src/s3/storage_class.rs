//! Storage classes on the S3 side: the class a write asks for (`x-amz-storage-class`
//! on PutObject, CopyObject and CreateMultipartUpload; the access layer has already
//! refused a name the cluster does not have), the class an upload's parts are written
//! in (an attribute of the upload), and the class answers show (GET and HEAD name it
//! unless it is STANDARD, as S3 does; listings always do). A version's class is its
//! data's (`cairn_raft::tiers`), never stored apart from it.

use cairn_object::Store;
use cairn_raft::schema::{Attrs, ClusterLayout, MultipartUpload, ObjectData};
use cairn_raft::tiers::{STANDARD, Tiers};
use http::HeaderMap;

/// The upload attribute naming the class its parts are written in (absent: STANDARD).
pub(crate) const UPLOAD_ATTR: &str = cairn_raft::schema::ATTR_UPLOAD_CLASS;

/// The class a write asks for: `x-amz-storage-class`, or STANDARD.
pub(crate) fn requested(headers: &HeaderMap) -> String {
    headers
        .get("x-amz-storage-class")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| STANDARD.to_string())
}

/// Records a new upload's class among its attributes (only when not STANDARD).
pub(crate) fn record_for_upload(attrs: &mut Attrs, class: &str) {
    if class != STANDARD {
        attrs.insert(UPLOAD_ATTR.to_string(), class.as_bytes().to_vec());
    }
}

/// The class `upload`'s parts are written in.
pub(crate) fn of_upload(store: &Store, upload: &MultipartUpload) -> String {
    store
        .meta
        .upload_attrs(&upload.bucket, &upload.key, &upload.upload_id)
        .ok()
        .and_then(|a| a.get(UPLOAD_ATTR).map(|v| String::from_utf8_lossy(v).into_owned()))
        .unwrap_or_else(|| STANDARD.to_string())
}

/// What a GET or HEAD shows: the class unless it is STANDARD.
pub(crate) fn shown(class: String) -> Option<String> {
    (class != STANDARD).then_some(class)
}

/// The classes of many versions (a listing page): the layout and the class record
/// read once.
pub(crate) struct Classes {
    layout: ClusterLayout,
    tiers: Tiers,
}

impl Classes {
    pub(crate) fn load(store: &Store) -> Classes {
        Classes { layout: store.meta.layout().unwrap_or_default(), tiers: store.meta.tiers().unwrap_or_default() }
    }

    pub(crate) fn of(&self, data: &ObjectData) -> String {
        if self.tiers.classes.is_empty() {
            return STANDARD.to_string();
        }
        self.tiers.class_of(&self.layout, data)
    }
}
