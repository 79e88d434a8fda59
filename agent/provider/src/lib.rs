//! Model providers for dw's agent.
