//! Benchmark: promoting a large image in a registry store, against the usual ways of doing it.
//!
//! Run with `cargo bench -p imagegate --bench promote` on a machine with a running docker
//! engine, Debian's `docker-registry` and `skopeo`, and the base image from
//! `scripts/engines.sh base-image` (`IMAGEGATE_BENCH_MB` sets the image's size; default 512).
//! In one run it builds a candidate holding that much incompressible data, pushes it to a
//! registry started here as imagegate's candidate, and then moves a tag to it three ways:
//!
//! - `imagegate promote`: the candidate's manifest put under the stable tag (with the lease,
//!   the compare-and-swap reads and the promotion record);
//! - `skopeo copy` from the candidate tag to another tag of the same repository;
//! - `docker pull` + `docker tag` + `docker push`, as a CI job on a fresh machine does it (the
//!   image is first removed from the engine).
//!
//! For each it prints the wall time and the number of HTTP requests the registry served,
//! counted from the registry's own log. This is a measurement, not a test.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use imagegate_testkit::{Registry, RegistryAuth, RegistryOptions};

fn run(program: &str, args: &[&str], directory: &Path) -> Duration {
    let started = Instant::now();
    let output = Command::new(program).args(args).current_dir(directory).output().expect("run a program");
    let elapsed = started.elapsed();
    if !output.status.success() {
        eprintln!(
            "promote bench: `{program} {}` failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        std::process::exit(1);
    }
    elapsed
}

/// Writes `megabytes` of incompressible bytes (xorshift output) to `path`.
fn write_random(path: &Path, megabytes: usize) {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create the payload"));
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..megabytes {
        for chunk in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        file.write_all(&block).expect("write the payload");
    }
    file.flush().expect("write the payload");
}

fn main() {
    let megabytes: usize = std::env::var("IMAGEGATE_BENCH_MB").ok().and_then(|text| text.parse().ok()).unwrap_or(512);
    let binary = env!("CARGO_BIN_EXE_imagegate");
    let registry = Registry::start(RegistryOptions { auth: RegistryAuth::None, tls: false }).expect("start a registry");
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path();
    std::fs::create_dir_all(root.join("ci")).expect("mkdir");
    write_random(&root.join("ci/payload"), megabytes);
    std::fs::write(root.join("ci/Dockerfile"), "FROM imagegate-test/busybox:base\nCOPY payload /opt/payload\n")
        .expect("write");
    let address = registry.address();
    std::fs::write(
        root.join("imagegate.toml"),
        format!(
            "[engine]\nkind = \"docker\"\n\n[store]\nregistry = \"{address}/bench\"\ninsecure = true\n\n\
             [images.big]\ncontext = \"ci\"\nstable_tag = \"big/image:stable\"\n\n\
             [images.big.suite]\ncommand = \"mkdir -p /results && echo '<testsuite><testcase classname=\\\"b\\\" name=\\\"ok\\\"/></testsuite>' > /results/junit.xml\"\nresults = \"/results\"\n"
        ),
    )
    .expect("write config");
    for args in [vec!["init", "-q", "-b", "main"], vec!["add", "-A"]] {
        run("git", &args, root);
    }
    run("git", &["-c", "user.email=b@example.invalid", "-c", "user.name=b", "commit", "-q", "-m", "bench"], root);

    let started = Instant::now();
    run(binary, &["--quiet", "gate"], root);
    println!(
        "promote bench: {megabytes} MB candidate built, pushed and gated in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let repository = format!("{address}/bench/big/image");
    let tags = Command::new("skopeo")
        .args(["list-tags", "--tls-verify=false", &format!("docker://{repository}")])
        .output()
        .expect("skopeo");
    let tags: serde_json::Value = serde_json::from_slice(&tags.stdout).expect("skopeo list-tags prints JSON");
    let candidate_tag = tags["Tags"]
        .as_array()
        .and_then(|tags| {
            tags.iter()
                .filter_map(|tag| tag.as_str())
                .find(|tag| tag.starts_with("candidate-") && tag.matches('-').count() == 2)
        })
        .expect("the candidate was pushed")
        .to_owned();
    let candidate = format!("{repository}:{candidate_tag}");

    let measure = |what: &str, work: &dyn Fn() -> Duration| {
        let before = registry.request_count();
        let elapsed = work();
        let served: Vec<_> = registry.requests().into_iter().skip(before).collect();
        // Per method, and manifest GETs apart: Docker Hub counts those as pulls.
        let mut methods = std::collections::BTreeMap::<String, usize>::new();
        for entry in &served {
            *methods.entry(entry.method.clone()).or_default() += 1;
        }
        let manifest_gets =
            served.iter().filter(|entry| entry.method == "GET" && entry.path.contains("/manifests/")).count();
        let methods: Vec<String> = methods.iter().map(|(method, count)| format!("{method} {count}")).collect();
        println!(
            "{what:<44} {:>8.2}s {:>6} requests ({}; manifest GETs {manifest_gets})",
            elapsed.as_secs_f64(),
            served.len(),
            methods.join(", ")
        );
    };
    println!("{:<44} {:>9} {:>15}", "way of moving a tag to the candidate", "time", "registry load");
    measure("imagegate promote", &|| run(binary, &["--quiet", "promote"], root));
    measure("skopeo copy (same repository)", &|| {
        run(
            "skopeo",
            &[
                "copy",
                "--quiet",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                &format!("docker://{candidate}"),
                &format!("docker://{repository}:skopeo-stable"),
            ],
            root,
        )
    });
    // A fresh CI machine: the image is not in the engine.
    let _ = Command::new("docker").args(["rmi", "-f", &candidate]).output();
    // Every local copy, under any name: the candidate was built here.
    let images = Command::new("docker").args(["images", "-q", "--filter", "label=io.imagegate.image=big"]).output();
    if let Ok(images) = images {
        for id in String::from_utf8_lossy(&images.stdout).lines() {
            let _ = Command::new("docker").args(["rmi", "-f", id]).output();
        }
    }
    measure("docker pull + tag + push (empty engine)", &|| {
        run("docker", &["pull", "--quiet", &candidate], root)
            + run("docker", &["tag", &candidate, &format!("{repository}:docker-stable")], root)
            + run("docker", &["push", "--quiet", &format!("{repository}:docker-stable")], root)
    });
    let _ = Command::new("docker").args(["rmi", "-f", &candidate, &format!("{repository}:docker-stable")]).output();
}
