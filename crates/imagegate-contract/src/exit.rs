//! Exit codes, documented in the README. They are part of the contract.

/// The process exit status of every imagegate command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// The candidate passed (and was promoted when asked), or the command did what it was asked.
    Success = 0,
    /// The candidate regressed: it is blocked and the stable pointer was not moved. Also a
    /// promotion refused for want of a passing verdict.
    Regression = 1,
    /// Bad usage or configuration, or a preflight problem (a build arg, COPY source or base
    /// image that would make the build fail); nothing was built.
    Usage = 2,
    /// The engine, the store or the suite's infrastructure failed (including a suite that
    /// produced no usable results): no verdict could be reached.
    Infrastructure = 3,
    /// The stable pointer moved since the verdict was reached (compare-and-swap lost).
    PointerMoved = 4,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// How bad a status is, for combining the statuses of several images into one.
    fn severity(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Regression => 1,
            ExitStatus::PointerMoved => 2,
            ExitStatus::Infrastructure => 3,
            ExitStatus::Usage => 4,
        }
    }

    /// The worse of two statuses.
    pub fn worst(self, other: ExitStatus) -> ExitStatus {
        if other.severity() > self.severity() { other } else { self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        assert_eq!(ExitStatus::Success.code(), 0);
        assert_eq!(ExitStatus::Regression.code(), 1);
        assert_eq!(ExitStatus::Usage.code(), 2);
        assert_eq!(ExitStatus::Infrastructure.code(), 3);
        assert_eq!(ExitStatus::PointerMoved.code(), 4);
    }

    #[test]
    fn infrastructure_outranks_regression() {
        assert_eq!(ExitStatus::Regression.worst(ExitStatus::Infrastructure), ExitStatus::Infrastructure);
        assert_eq!(ExitStatus::Success.worst(ExitStatus::Regression), ExitStatus::Regression);
        assert_eq!(ExitStatus::PointerMoved.worst(ExitStatus::Success), ExitStatus::PointerMoved);
    }
}
