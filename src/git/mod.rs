//! The only code that runs git: worktrees, branches, commits. (Being written.)
