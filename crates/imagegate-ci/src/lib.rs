//! CI providers: detecting where a run happens (provider, branch, default branch, event, trust)
//! from the provider's environment and event payload, and writing outputs where it reads them.
