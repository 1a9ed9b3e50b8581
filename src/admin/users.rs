//! People: accounts (`/user`, `/user/{id}`, lock, unlock, reset the second factor, archive,
//! sign out everywhere), the caller's own session (`/session`), a service's team
//! (`/service/{id}/users`, adding and removing members, their permissions at
//! `/user/{user_id}/service/{service_id}/permission` as upstream), and invitations
//! (`/service/{id}/invite`).

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done, json_body, no_content, parse_body, service_json};
use crate::domain::accounts::invitations::{self, NewInvitation};
use crate::domain::accounts::sessions;
use crate::domain::accounts::users::{self, NewUser, Standing, UserUpdate};
use crate::domain::services;
use crate::error::AppError;

/// Permissions as the admin app sends them: names, or upstream's `[{"permission": name}]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PermissionName {
    Name(String),
    Object { permission: String },
}

impl PermissionName {
    fn name(&self) -> &str {
        match self {
            PermissionName::Name(n) | PermissionName::Object { permission: n } => n,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct PermissionsBody {
    #[serde(default)]
    permissions: Option<Vec<PermissionName>>,
    /// Upstream sends template folder permissions too; folders do not exist here.
    #[serde(default)]
    #[allow(dead_code)]
    folder_permissions: Option<Value>,
}

fn permissions_of(
    body: &Bytes,
    default_all: bool,
) -> Result<Vec<storage::records::Permission>, AppError> {
    let body: PermissionsBody = if body.is_empty() {
        PermissionsBody::default()
    } else {
        parse_body(body)?
    };
    match body.permissions {
        Some(list) => {
            let names: Vec<&str> = list.iter().map(PermissionName::name).collect();
            Ok(users::parse_permissions(&names)?)
        }
        None if default_all => Ok(storage::records::Permission::ALL.to_vec()),
        None => Err(AppError::BadRequest("permissions: required".into())),
    }
}

fn user_json(c: &Caller, u: &storage::records::User) -> Result<Value, AppError> {
    Ok(users::user_json(c, u)?)
}

async fn list_users(c: Caller) -> Result<Response, AppError> {
    let all = users::list_users(&c, &c.actor)?;
    let list: Result<Vec<Value>, AppError> = all.iter().map(|u| user_json(&c, u)).collect();
    Ok(data(StatusCode::OK, Value::Array(list?)))
}

async fn create(c: Caller, body: Bytes) -> Result<Response, AppError> {
    let new: NewUser = parse_body(&body)?;
    let user = users::create_user(&c, &c.actor, new).await?;
    tracing::info!(user_id = %user.id, "user created");
    Ok(data(StatusCode::CREATED, user_json(&c, &user)?))
}

async fn get(id: Uuid, c: Caller) -> Result<Response, AppError> {
    let user = users::get_user(&c, id)?;
    Ok(data(StatusCode::OK, user_json(&c, &user)?))
}

async fn update(id: Uuid, c: Caller, body: Bytes) -> Result<Response, AppError> {
    let update: UserUpdate = parse_body(&body)?;
    let user = users::update_user(&c, &c.actor, id, update).await?;
    Ok(data(StatusCode::OK, user_json(&c, &user)?))
}

async fn standing(id: Uuid, change: Standing, c: Caller) -> Result<Response, AppError> {
    let user = users::change_standing(&c, &c.actor, id, change).await?;
    tracing::info!(user_id = %id, change = ?change, "account changed");
    Ok(data(StatusCode::OK, user_json(&c, &user)?))
}

/// A first sign-in link for the account (`notify user create` prints it when a server holds
/// the data directory).
async fn first_sign_in_link(id: Uuid, c: Caller) -> Result<Response, AppError> {
    let token = users::first_sign_in_link(&c, &c.actor, id).await?;
    let url = format!("{}first-sign-in/{token}", c.root);
    Ok(data(StatusCode::CREATED, json!({ "url": url })))
}

async fn end_sessions(id: Uuid, c: Caller) -> Result<Response, AppError> {
    let ended = sessions::sign_out_everywhere(&c, &c.actor, id).await?;
    Ok(data(StatusCode::OK, json!({ "sessions_ended": ended })))
}

async fn own_session(c: Caller) -> Result<Response, AppError> {
    let Some(s) = &c.session else {
        return Ok(data(
            StatusCode::OK,
            json!({ "actor": c.actor.kind(), "name": c.actor.name() }),
        ));
    };
    Ok(data(
        StatusCode::OK,
        json!({
            "actor": "user",
            "user": user_json(&c, &s.person.user)?,
            "csrf_token": s.session.csrf_token,
            "second_factor": s.session.second_factor,
            "created_at": format_api_timestamp(s.session.created_at),
            "last_seen_at": format_api_timestamp(s.session.last_seen_at),
        }),
    ))
}

async fn sign_out(c: Caller) -> Result<Response, AppError> {
    let Some(s) = &c.session else {
        return Err(AppError::BadRequest(
            "Only a signed-in person has a session to end".into(),
        ));
    };
    sessions::sign_out(&c, s, c.actor.address).await?;
    Ok(no_content())
}

async fn team(service_id: Uuid, c: Caller) -> Result<Response, AppError> {
    let list = users::service_users(&c, service_id)?;
    let mut out = Vec::new();
    for (user, membership) in &list {
        let mut v = user_json(&c, user)?;
        v["permissions"] = json!({
            service_id.to_string(): membership.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>()
        });
        out.push(v);
    }
    Ok(data(StatusCode::OK, Value::Array(out)))
}

/// Answers the service, as upstream does.
async fn add(
    service_id: Uuid,
    user_id: Uuid,
    c: Caller,
    body: Bytes,
) -> Result<Response, AppError> {
    let permissions = permissions_of(&body, true)?;
    users::add_user_to_service(&c, &c.actor, service_id, user_id, permissions).await?;
    tracing::info!(%service_id, %user_id, "user added to service");
    let service = services::get_service(&c.store, service_id)?;
    Ok(data(StatusCode::CREATED, service_json(&service)))
}

async fn remove(service_id: Uuid, user_id: Uuid, c: Caller) -> Result<Response, AppError> {
    users::remove_user_from_service(&c, &c.actor, service_id, user_id).await?;
    tracing::info!(%service_id, %user_id, "user removed from service");
    Ok(no_content())
}

async fn set_permissions(
    user_id: Uuid,
    service_id: Uuid,
    c: Caller,
    body: Bytes,
) -> Result<Response, AppError> {
    let permissions = permissions_of(&body, false)?;
    users::set_permissions(&c, &c.actor, service_id, user_id, permissions).await?;
    Ok(no_content())
}

async fn invite(service_id: Uuid, c: Caller, body: Bytes) -> Result<Response, AppError> {
    let new: NewInvitation = parse_body(&body)?;
    let sent = invitations::invite(&c, &c.actor, service_id, new, &c.root).await?;
    tracing::info!(%service_id, invitation_id = %sent.invitation.id, "invitation sent");
    Ok(data(
        StatusCode::CREATED,
        invitations::invitation_json(&c, &sent.invitation),
    ))
}

async fn invitations_list(service_id: Uuid, c: Caller) -> Result<Response, AppError> {
    let list = invitations::list(&c, service_id)?;
    Ok(data(
        StatusCode::OK,
        Value::Array(
            list.iter()
                .map(|i| invitations::invitation_json(&c, i))
                .collect(),
        ),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InvitationChange {
    status: String,
}

async fn change_invitation(
    service_id: Uuid,
    id: Uuid,
    c: Caller,
    body: Bytes,
) -> Result<Response, AppError> {
    let change: InvitationChange = parse_body(&body)?;
    if change.status != "cancelled" {
        return Err(AppError::BadRequest(
            "status: the only change is to cancelled".into(),
        ));
    }
    let i = invitations::cancel(&c, &c.actor, service_id, id).await?;
    Ok(data(StatusCode::OK, invitations::invitation_json(&c, &i)))
}

pub fn routes(auth: Auth) -> Routes {
    let list = warp::path!("user")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|c: Caller| async move { done(list_users(c).await) });
    let create = warp::path!("user")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|c: Caller, body: Bytes| async move { done(create(c, body).await) });
    let get = warp::path!("user" / Uuid)
        .and(warp::get())
        .and(auth.clone())
        .and_then(|id: Uuid, c: Caller| async move { done(get(id, c).await) });
    let update = warp::path!("user" / Uuid)
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(
            |id: Uuid, c: Caller, body: Bytes| async move { done(update(id, c, body).await) },
        );
    let standing = warp::path!("user" / Uuid / String)
        .and(warp::post())
        .and_then(|id: Uuid, what: String| async move {
            let change = match what.as_str() {
                "lock" => Standing::Lock,
                "unlock" => Standing::Unlock,
                "reset-second-factor" => Standing::ResetSecondFactor,
                "archive" => Standing::Archive,
                _ => return Err(warp::reject::not_found()),
            };
            Ok((id, change))
        })
        .untuple_one()
        .and(auth.clone())
        .and_then(|id: Uuid, change: Standing, c: Caller| async move {
            done(standing(id, change, c).await)
        });
    let sign_in_link = warp::path!("user" / Uuid / "first-sign-in-link")
        .and(warp::post())
        .and(auth.clone())
        .and_then(|id: Uuid, c: Caller| async move { done(first_sign_in_link(id, c).await) });
    let end_sessions = warp::path!("user" / Uuid / "sessions")
        .and(warp::delete())
        .and(auth.clone())
        .and_then(|id: Uuid, c: Caller| async move { done(end_sessions(id, c).await) });
    let own_session = warp::path!("session")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|c: Caller| async move { done(own_session(c).await) });
    let sign_out = warp::path!("session")
        .and(warp::delete())
        .and(auth.clone())
        .and_then(|c: Caller| async move { done(sign_out(c).await) });
    let team = warp::path!("service" / Uuid / "users")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid: Uuid, c: Caller| async move { done(team(sid, c).await) });
    let add = warp::path!("service" / Uuid / "users" / Uuid)
        .and(warp::post())
        .and(auth.clone())
        .and(json_body().or(warp::any().map(Bytes::new)).unify())
        .and_then(|sid: Uuid, uid: Uuid, c: Caller, body: Bytes| async move {
            done(add(sid, uid, c, body).await)
        });
    let remove = warp::path!("service" / Uuid / "users" / Uuid)
        .and(warp::delete())
        .and(auth.clone())
        .and_then(|sid: Uuid, uid: Uuid, c: Caller| async move { done(remove(sid, uid, c).await) });
    let permissions = warp::path!("user" / Uuid / "service" / Uuid / "permission")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|uid: Uuid, sid: Uuid, c: Caller, body: Bytes| async move {
            done(set_permissions(uid, sid, c, body).await)
        });
    let invite = warp::path!("service" / Uuid / "invite")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(
            |sid: Uuid, c: Caller, body: Bytes| async move { done(invite(sid, c, body).await) },
        );
    let invitations = warp::path!("service" / Uuid / "invite")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid: Uuid, c: Caller| async move { done(invitations_list(sid, c).await) });
    let change_invitation = warp::path!("service" / Uuid / "invite" / Uuid)
        .and(warp::post())
        .and(auth)
        .and(json_body())
        .and_then(|sid: Uuid, id: Uuid, c: Caller, body: Bytes| async move {
            done(change_invitation(sid, id, c, body).await)
        });
    list.or(create)
        .unify()
        .or(get)
        .unify()
        .or(update)
        .unify()
        .or(standing)
        .unify()
        .or(sign_in_link)
        .unify()
        .or(end_sessions)
        .unify()
        .or(own_session)
        .unify()
        .or(sign_out)
        .unify()
        .or(team)
        .unify()
        .or(add)
        .unify()
        .or(remove)
        .unify()
        .or(permissions)
        .unify()
        .or(invite)
        .unify()
        .or(invitations)
        .unify()
        .or(change_invitation)
        .unify()
        .boxed()
}
