//! Server-made identities. Each is a UUID with its own type so a message id can never
//! be passed where a conversation id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random (v4) id.
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A signed-in person: a customer or an agency member.
    UserId
);
uuid_id!(
    /// An agency; the `context_id` of an `agency_inquiry` conversation.
    AgencyId
);
uuid_id!(
    /// A conversation between a customer and an agency's members.
    ConversationId
);
uuid_id!(
    /// A stored message.
    MessageId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_display_and_parse_as_hyphenated_uuids() {
        let id = ConversationId::new_random();
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(text.parse::<ConversationId>().ok(), Some(id));
    }

    #[test]
    fn ids_serialize_as_bare_strings() {
        let id = UserId::from_uuid(Uuid::nil());
        let json = serde_json::to_string(&id).expect("serializes");
        assert_eq!(json, "\"00000000-0000-0000-0000-000000000000\"");
        assert!(serde_json::from_str::<UserId>("\"not-a-uuid\"").is_err());
    }
}
