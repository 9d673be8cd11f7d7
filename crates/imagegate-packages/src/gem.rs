//! Ruby gems installed in an image: the specifications RubyGems writes to
//! `<gem home>/specifications/<name>-<version>[-<platform>].gemspec` (and `specifications/default/`
//! for the gems that ship with Ruby).
//!
//! RubyGems starts each installed specification with a stub line,
//! `# stub: <name> <version> <platform> <require paths>`, which is read first; then the
//! `s.name = "…"` and `s.version = "…"` assignments; then the file name. The location is the gem
//! home, which may hold several versions of one gem side by side.

use crate::model::{Ecosystem, Package};

/// Reads one gem from its specification; `None` when neither the content nor the file name
/// gives a name and a version.
pub(crate) fn read_gemspec(gem_home: &str, file_name: &str, content: &[u8]) -> Option<Package> {
    let text = String::from_utf8_lossy(content);
    let (name, version) =
        from_stub_line(&text).or_else(|| from_assignments(&text)).or_else(|| from_file_name(file_name))?;
    Some(Package { ecosystem: Ecosystem::Gem, name, version, location: gem_home.to_owned(), modules: Vec::new() })
}

fn from_stub_line(text: &str) -> Option<(String, String)> {
    // The stub is among the first lines, after the encoding comment.
    let stub = text.lines().take(5).find_map(|line| line.trim().strip_prefix("# stub:"))?;
    let mut words = stub.split_whitespace();
    let name = words.next()?;
    let version = words.next()?;
    Some((name.to_owned(), version.to_owned()))
}

fn from_assignments(text: &str) -> Option<(String, String)> {
    let mut name = None;
    let mut version = None;
    for line in text.lines() {
        let line = line.trim();
        if name.is_none() {
            name = assigned_string(line, ".name");
        }
        if version.is_none() {
            version = assigned_string(line, ".version");
        }
    }
    Some((name?, version?))
}

/// The string in `s.name = "rack".freeze` (any receiver, either quote).
fn assigned_string(line: &str, attribute: &str) -> Option<String> {
    let (receiver, rest) = line.split_once(attribute)?;
    if receiver.is_empty() || receiver.contains(char::is_whitespace) {
        return None;
    }
    let value = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = value.chars().next().filter(|quote| matches!(quote, '"' | '\''))?;
    let inner = &value[1..];
    let end = inner.find(quote)?;
    Some(inner[..end].to_owned()).filter(|value| !value.is_empty())
}

/// `rspec-core-3.12.0.gemspec` → (`rspec-core`, `3.12.0`); `nokogiri-1.15.4-x86_64-linux.gemspec`
/// → (`nokogiri`, `1.15.4`). The name ends at the first `-` followed by a digit.
fn from_file_name(file_name: &str) -> Option<(String, String)> {
    let stem = file_name.strip_suffix(".gemspec")?;
    let split = stem
        .match_indices('-')
        .map(|(index, _)| index)
        .find(|index| stem[index + 1..].starts_with(|character: char| character.is_ascii_digit()))?;
    let name = &stem[..split];
    let version = stem[split + 1..].split('-').next()?;
    (!name.is_empty()).then(|| (name.to_owned(), version.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_and_version(package: &Package) -> (&str, &str) {
        (package.name.as_str(), package.version.as_str())
    }

    #[test]
    fn reads_real_specifications() {
        // Copied from Debian 12's Ruby 3.1 gem homes.
        let home = "usr/lib/ruby/gems/3.1.0";
        let rake =
            read_gemspec(home, "rake-13.0.6.gemspec", include_bytes!("../fixtures/gem/rake-13.0.6.gemspec")).unwrap();
        assert_eq!(name_and_version(&rake), ("rake", "13.0.6"));
        assert_eq!(rake.location, home);
        let rspec = read_gemspec(
            "usr/share/rubygems-integration/all",
            "rspec-core-3.12.0.gemspec",
            include_bytes!("../fixtures/gem/rspec-core-3.12.0.gemspec"),
        )
        .unwrap();
        assert_eq!(name_and_version(&rspec), ("rspec-core", "3.12.0"));
        let bigdecimal = read_gemspec(
            home,
            "bigdecimal-3.1.1.gemspec",
            include_bytes!("../fixtures/gem/default/bigdecimal-3.1.1.gemspec"),
        )
        .unwrap();
        assert_eq!(name_and_version(&bigdecimal), ("bigdecimal", "3.1.1"));
    }

    #[test]
    fn reads_a_platform_gem_from_its_stub() {
        let spec = "# -*- encoding: utf-8 -*-\n# stub: nokogiri 1.15.4 x86_64-linux lib\n\nGem::Specification.new do |s|\n  s.name = \"nokogiri\".freeze\n";
        let gem = read_gemspec("usr/local/bundle", "nokogiri-1.15.4-x86_64-linux.gemspec", spec.as_bytes()).unwrap();
        assert_eq!(name_and_version(&gem), ("nokogiri", "1.15.4"));
    }

    #[test]
    fn falls_back_to_assignments_then_to_the_file_name() {
        let spec = "Gem::Specification.new do |spec|\n  spec.name    = 'my-gem'\n  spec.version = '0.1.0.pre'\nend\n";
        let gem = read_gemspec("home", "whatever.gemspec", spec.as_bytes()).unwrap();
        assert_eq!(name_and_version(&gem), ("my-gem", "0.1.0.pre"));

        let gem = read_gemspec("home", "net-http-0.4.1.gemspec", b"").unwrap();
        assert_eq!(name_and_version(&gem), ("net-http", "0.4.1"));
        let gem = read_gemspec("home", "nokogiri-1.15.4-x86_64-linux.gemspec", b"").unwrap();
        assert_eq!(name_and_version(&gem), ("nokogiri", "1.15.4"));
        assert!(read_gemspec("home", "noversion.gemspec", b"").is_none());
    }
}
