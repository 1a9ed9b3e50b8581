//! The pages about people: a forgotten password and its emailed link, a security code that
//! did not arrive, accepting an invitation (and registering), a service's team members
//! (inviting, changing permissions, removing) and the person's own profile. Wording and URLs
//! follow GOV.UK Notify's admin app.

use askama::Template;

use crate::{Choice, FormErrors, Layout};

/// A form made of one button (resend a code, remove a member, cancel an invitation).
#[derive(Debug, Clone)]
pub struct ButtonForm {
    pub action: String,
    pub button: String,
    /// `button--warning` for something that cannot be undone, or empty.
    pub class: String,
}

/// A page that says one thing: a link that no longer works, "check your inbox", what to do
/// when a code does not arrive. Paragraphs, then numbered steps, then an optional button.
#[derive(Template)]
#[template(path = "people/notice.html")]
pub struct NoticePage {
    pub layout: Layout,
    pub paragraphs: Vec<String>,
    pub steps: Vec<String>,
    pub form: Option<ButtonForm>,
    /// (href, text) of a link after everything else.
    pub link: Option<(String, String)>,
}

/// `GET /forgot-password`.
#[derive(Template)]
#[template(path = "people/forgot_password.html")]
pub struct ForgotPasswordPage {
    pub layout: Layout,
    pub email_address: String,
    pub errors: FormErrors,
}

/// `GET /new-password/{token}`: the link from a password reset email.
#[derive(Template)]
#[template(path = "people/new_password.html")]
pub struct NewPasswordPage {
    pub layout: Layout,
    pub action: String,
    pub errors: FormErrors,
}

/// `GET /invitation/{token}` for a person with no account yet: create one.
#[derive(Template)]
#[template(path = "people/register.html")]
pub struct RegisterPage {
    pub layout: Layout,
    pub action: String,
    pub email_address: String,
    pub name: String,
    pub mobile_number: String,
    /// The invitation is for text message sign-in: the mobile number is needed.
    pub mobile_required: bool,
    pub errors: FormErrors,
}

/// One permission of a team member, ticked or crossed.
#[derive(Debug, Clone)]
pub struct PermissionMark {
    pub label: String,
    pub granted: bool,
}

/// A team member on the team page.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub name: String,
    pub email_address: String,
    /// The person looking at the page.
    pub you: bool,
    pub permissions: Vec<PermissionMark>,
    pub signs_in_with: String,
    /// "Change details" (for someone who may manage the team, not on their own row).
    pub edit_href: Option<String>,
}

/// An invitation on the team page.
#[derive(Debug, Clone)]
pub struct InvitedRow {
    pub email_address: String,
    /// "(invited)", "(cancelled)", "(expired)", "(accepted)".
    pub status: String,
    pub permissions: Vec<PermissionMark>,
    /// Pending invitations, for someone who may manage the team.
    pub cancel: Option<ButtonForm>,
}

/// `GET /services/{service_id}/users`.
#[derive(Template)]
#[template(path = "people/team.html")]
pub struct TeamPage {
    pub layout: Layout,
    pub members: Vec<MemberRow>,
    pub invited: Vec<InvitedRow>,
    /// The "Invite a team member" button's link (for someone who may manage the team).
    pub invite_href: Option<String>,
}

/// `GET /services/{service_id}/users/invite`.
#[derive(Template)]
#[template(path = "people/invite.html")]
pub struct InvitePage {
    pub layout: Layout,
    pub action: String,
    pub email_address: String,
    pub permissions: Vec<Choice>,
    pub sign_in_methods: Vec<Choice>,
    pub errors: FormErrors,
}

/// `GET /services/{service_id}/users/{user_id}`: a team member's permissions.
#[derive(Template)]
#[template(path = "people/edit_member.html")]
pub struct EditMemberPage {
    pub layout: Layout,
    pub action: String,
    pub email_address: String,
    pub mobile_number: String,
    pub permissions: Vec<Choice>,
    /// "Remove this team member" asked: the confirmation.
    pub confirm_remove: Option<ButtonForm>,
    pub remove_href: String,
    pub errors: FormErrors,
}

/// `GET /user-profile`: the signed-in person's own details.
#[derive(Template)]
#[template(path = "people/user_profile.html")]
pub struct UserProfilePage {
    pub layout: Layout,
    pub name: String,
    pub email_address: String,
    pub mobile_number: String,
    pub sign_in_method: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_page_marks_permissions_and_escapes() {
        let html = TeamPage {
            layout: Layout::new("Team members"),
            members: vec![MemberRow {
                name: "Ann <b>".into(),
                email_address: "ann@example.com".into(),
                you: false,
                permissions: vec![
                    PermissionMark {
                        label: "Send messages".into(),
                        granted: true,
                    },
                    PermissionMark {
                        label: "Manage API integration".into(),
                        granted: false,
                    },
                ],
                signs_in_with: "Signs in with an email code".into(),
                edit_href: Some("/services/s/users/u".into()),
            }],
            invited: vec![InvitedRow {
                email_address: "bob@example.com".into(),
                status: "(invited)".into(),
                permissions: vec![],
                cancel: Some(ButtonForm {
                    action: "/services/s/cancel-invited-user/i".into(),
                    button: "Cancel invitation".into(),
                    class: String::new(),
                }),
            }],
            invite_href: Some("/services/s/users/invite".into()),
        }
        .render()
        .unwrap();
        assert!(!html.contains("Ann <b>"));
        // Screen readers hear "Can" or "Cannot" before each permission.
        assert!(html.contains("Can </span>Send messages"));
        assert!(html.contains("Cannot </span>Manage API integration"));
        assert!(html.contains(r#"action="/services/s/cancel-invited-user/i""#));
        assert!(html.contains("Invite a team member"));
    }

    #[test]
    fn notice_lists_steps_and_its_button() {
        let html = NoticePage {
            layout: Layout::new("If you do not receive a security code"),
            paragraphs: vec!["One".into()],
            steps: vec!["Check".into(), "Request a new security code.".into()],
            form: Some(ButtonForm {
                action: "/send-new-code".into(),
                button: "Resend security code".into(),
                class: String::new(),
            }),
            link: None,
        }
        .render()
        .unwrap();
        assert!(html.contains("<ol"));
        assert!(html.contains("Resend security code"));
        assert!(html.contains(r#"action="/send-new-code""#));
    }
}
