//! A client of GitLab's Duo Workflow Service.
