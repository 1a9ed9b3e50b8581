//! One-off success banners after a change ("Invite sent", "Account locked"), as the Design
//! System's notification banner does after an action: the page a form redirects to is named with
//! `?done=<what>`, and that page shows the sentence in a green banner. Only the sentences listed
//! here can appear: the address carries a key, never the words, so nobody can put their own
//! text on our pages with a link. A reload shows the banner again, which is harmless.

use web::Banner;

use super::session::Visit;

/// What just happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    InviteSent,
    PermissionsSaved,
    MemberRemoved,
    InviteCancelled,
    SettingsSaved,
    AccountLocked,
    AccountUnlocked,
    SecondFactorReset,
    AccountArchived,
}

impl Done {
    const ALL: &'static [Done] = &[
        Done::InviteSent,
        Done::PermissionsSaved,
        Done::MemberRemoved,
        Done::InviteCancelled,
        Done::SettingsSaved,
        Done::AccountLocked,
        Done::AccountUnlocked,
        Done::SecondFactorReset,
        Done::AccountArchived,
    ];

    fn key(self) -> &'static str {
        match self {
            Done::InviteSent => "invite-sent",
            Done::PermissionsSaved => "permissions-saved",
            Done::MemberRemoved => "member-removed",
            Done::InviteCancelled => "invite-cancelled",
            Done::SettingsSaved => "settings-saved",
            Done::AccountLocked => "account-locked",
            Done::AccountUnlocked => "account-unlocked",
            Done::SecondFactorReset => "second-factor-reset",
            Done::AccountArchived => "account-archived",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Done::InviteSent => "Invite sent",
            Done::PermissionsSaved => "Permissions saved",
            Done::MemberRemoved => "Team member removed",
            Done::InviteCancelled => "Invitation cancelled",
            Done::SettingsSaved => "Your changes have been saved",
            Done::AccountLocked => "Account locked: this person cannot sign in",
            Done::AccountUnlocked => "Account unlocked",
            Done::SecondFactorReset => {
                "Second factor reset: this person signs in with a code sent by email"
            }
            Done::AccountArchived => "Account archived",
        }
    }

    /// `path` with this outcome named in its query.
    pub fn on(self, path: &str) -> String {
        let join = if path.contains('?') { '&' } else { '?' };
        format!("{path}{join}done={}", self.key())
    }

    /// The outcome a request's query names, if it names one we know.
    pub fn in_query(query: &str) -> Option<Done> {
        let key = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("done="))?;
        Done::ALL.iter().copied().find(|d| d.key() == key)
    }

    pub fn banner(self) -> Banner {
        Banner {
            message: self.message().to_string(),
            success: true,
        }
    }
}

impl Visit {
    /// The success banner this page was asked to show, if any.
    pub fn done_banner(&self) -> Option<Banner> {
        Done::in_query(self.query()).map(Done::banner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_goes_into_a_path_and_comes_back_out() {
        for done in Done::ALL {
            let path = done.on("/services/x/users");
            let query = path.split_once('?').unwrap().1;
            assert_eq!(Done::in_query(query), Some(*done));
        }
        assert_eq!(
            Done::AccountLocked.on("/users/1?tab=a"),
            "/users/1?tab=a&done=account-locked"
        );
        assert_eq!(
            Done::in_query("a=1&done=invite-sent"),
            Some(Done::InviteSent)
        );
    }

    #[test]
    fn only_known_outcomes_are_shown() {
        assert_eq!(Done::in_query("done=You%20have%20won"), None);
        assert_eq!(Done::in_query("done="), None);
        assert_eq!(Done::in_query(""), None);
    }
}
