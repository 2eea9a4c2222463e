import GatewayCore
import COpenSSL
public enum GatewayAuthModule {}
