//! Where a git remote's URL points on a forge: its host and the repository's `owner/name`,
//! read from the URL forms git accepts (git-clone(1), "GIT URLS"): `https://host/o/r.git`,
//! `ssh://git@host:2222/o/r.git` and the scp-like `git@host:o/r.git`. A `file://` URL or a
//! local path has no forge.

/// A remote URL, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRepo {
    /// `http` or `https` for a web URL; `ssh` for the ssh forms.
    pub scheme: String,
    /// The host name, without user or port.
    pub host: String,
    /// The port of a web URL, when one is written.
    pub port: Option<u16>,
    /// The path before the repository's name (`owner`, or `group/subgroup`).
    pub owner: String,
    /// The repository's name, without `.git`.
    pub name: String,
}

impl RemoteRepo {
    /// `owner/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// `url` taken apart; `None` for a local path, a `file://` URL, or a URL without an
/// `owner/name` path.
pub fn parse(url: &str) -> Option<RemoteRepo> {
    let url = url.trim();
    let (scheme, rest) = if let Some((scheme, rest)) = url.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        if !matches!(
            scheme.as_str(),
            "http" | "https" | "ssh" | "git" | "git+ssh"
        ) {
            return None;
        }
        let (authority, path) = rest.split_once('/')?;
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = match host_port.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().ok()),
            None => (host_port, None),
        };
        let web = matches!(scheme.as_str(), "http" | "https");
        let scheme = if web { scheme } else { "ssh".to_string() };
        (
            scheme,
            (host.to_string(), if web { port } else { None }, path),
        )
    } else {
        // scp-like: [user@]host:path, where the part before ':' has no '/'.
        let (authority, path) = url.split_once(':')?;
        if authority.contains('/') || authority.is_empty() {
            return None;
        }
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        ("ssh".to_string(), (host.to_string(), None, path))
    };
    let (host, port, path) = rest;
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let (owner, name) = path.rsplit_once('/')?;
    if host.is_empty() || owner.is_empty() || name.is_empty() {
        return None;
    }
    Some(RemoteRepo {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
        owner: owner.to_string(),
        name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_forms_git_accepts() {
        let r = parse("https://github.com/octo/hello.git").expect("https");
        assert_eq!(
            (r.host.as_str(), r.full_name()),
            ("github.com", "octo/hello".into())
        );
        let r = parse("git@github.com:octo/hello.git").expect("scp");
        assert_eq!(
            (r.scheme.as_str(), r.full_name()),
            ("ssh", "octo/hello".into())
        );
        let r = parse("ssh://git@code.example.org:2222/team/sub/app").expect("ssh");
        assert_eq!(
            (r.host.as_str(), r.port, r.owner.as_str(), r.name.as_str()),
            ("code.example.org", None, "team/sub", "app")
        );
        let r = parse("http://127.0.0.1:3000/octo/hello").expect("port");
        assert_eq!(r.port, Some(3000));
        assert_eq!(parse("/srv/git/hello.git"), None);
        assert_eq!(parse("file:///srv/git/hello.git"), None);
        assert_eq!(parse("https://github.com/justone"), None);
    }
}
