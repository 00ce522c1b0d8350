//! The only code that runs tmux: a private server on its own socket with bosun's generated
//! config. (Being written; see the tmux layer issue.)
